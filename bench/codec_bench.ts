/**
 * Codec benchmark: for every `../shared/data/*.safetensors` and the FP8, INT8 and INT4 files made
 * from the FP32 ones (bench/inputs/), in one run, the ratio, pack and unpack speed and peak RSS of
 * both modes, system compressors as baselines, the per-chunk order-0 and context entropy bounds,
 * the peer table from the issue and pass/fail flags; then one synthetic file over 2 GB packed and
 * decoded to show that memory stays flat. Writes `bench/results/<date>.json` and prints markdown
 * tables.
 *
 * ```
 * deno task bench [--quick] [--no-big] [--no-quantised] [--data DIR] [--files a,b] [--runs N]
 *                 [--warmup-ms MS] [--big-gb G] [--out FILE]
 * ```
 *
 * Every pack and decode runs in a child process (`bench/codec_worker.ts`) with a timeout, so its
 * peak RSS (`VmHWM`) is its own. Nothing is installed: a missing tool is skipped and reported.
 * Sizes are in bytes and speeds in MB/s with MB = 10^6 bytes, as zstd reports them.
 *
 * The modules: options.ts (command line), inputs/ (what is measured), measure_input.ts and
 * measure.ts (one input), bounds.ts, peers.ts (system compressors and the issue's table),
 * flags.ts, big_file.ts, machine.ts (machine facts and the code snapshot), report.ts.
 * @module
 */
import { DEFAULT_CHUNK_BYTES } from "../src/container/format.ts";
import { type BigResult, bigRun } from "./big_file.ts";
import { CHUNK_BYTES, RESULTS_DIR, workerHome } from "./config.ts";
import type { FileResult } from "./flags.ts";
import { benchInputs } from "./inputs/list.ts";
import { machineInfo, snapshotCode } from "./machine.ts";
import { measureInput } from "./measure_input.ts";
import { parseArgs } from "./options.ts";
import { PEERS, TOOLS } from "./peers.ts";
import { errText, which } from "./processes.ts";
import { report } from "./report.ts";

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  if (DEFAULT_CHUNK_BYTES !== CHUNK_BYTES) {
    console.error(`note: the container's default chunk is ${DEFAULT_CHUNK_BYTES}, not 256 KiB`);
  }
  const machine = await machineInfo();
  const found = new Map<string, boolean>();
  for (const bin of new Set(["zstd", ...TOOLS.flatMap((t) => t.needs)])) {
    found.set(bin, (await which(bin)) !== null);
  }
  try {
    opts.dataDir = await Deno.realPath(opts.dataDir);
  } catch (e) {
    console.error(`cannot read data directory ${opts.dataDir}: ${errText(e)}`);
    Deno.exit(1);
  }

  const tmp = await Deno.makeTempDir({ prefix: "tessera-bench-" });
  const cleanup = () => {
    try {
      Deno.removeSync(tmp, { recursive: true });
    } catch { /* already gone */ }
  };
  const onSignal = () => {
    cleanup();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    machine.codeSnapshot = await snapshotCode(`${tmp}/code`);
    workerHome.dir = `${tmp}/code`;
  } catch (e) {
    console.error(`note: code snapshot failed (${errText(e)}); workers run the live tree`);
  }

  const results: FileResult[] = [];
  let big: BigResult | null = null, names: string[] = [];
  try {
    await Deno.mkdir(`${tmp}/inputs`);
    const inputs = await benchInputs(opts.dataDir, `${tmp}/inputs`, opts.quantised, opts.files);
    names = inputs.map((i) => i.name);
    if (opts.files) {
      const unknown = opts.files.filter((f) => !names.includes(f));
      if (unknown.length) console.error(`note: no such input: ${unknown.join(", ")}`);
    }
    if (inputs.length === 0) console.error("note: no files to benchmark");
    for (const input of inputs) {
      results.push(await measureInput(input, { opts, tmp, found }));
      await Deno.remove(`${tmp}/inputs/${input.name}.safetensors`).catch(() => {});
    }
    if (opts.big) {
      big = await bigRun(opts, tmp);
    } else big = { skipped: opts.quick ? "--quick" : "--no-big" };
  } finally {
    cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  machine.loadavgEnd = Deno.loadavg();
  const date = new Date();
  const json = {
    schema: "tessera-codec-bench/2",
    date: date.toISOString(),
    machine,
    options: {
      dataDir: opts.dataDir,
      files: names,
      quick: opts.quick,
      quantised: opts.quantised,
      runs: opts.runs,
      warmupMs: opts.warmupMs,
      chunkBytes: CHUNK_BYTES,
      big: opts.big,
      bigBytes: opts.bigBytes,
    },
    units: {
      sizes: "bytes",
      speeds: "MB/s, MB = 1e6 bytes, original bytes / wall seconds",
      rss: "bytes, VmHWM of the child process",
      ratio: "original size / compressed size",
    },
    definitions: {
      pack: "packFile(input, output, {mode}) in a child process, timed around the call, once",
      decode: "in a child process: read the container into memory (untimed), warm up (untimed, " +
        ">= 2 runs and >= warmupMs; the first is coldSeconds), then per run " +
        "openContainer(bufferSource(bytes)) + the planner and assembler into reused buffers (every " +
        "chunk's XXH32 checked; native kernels when built, see decode.kernel); the median of " +
        "the runs; a final untimed pass checks the whole file's SHA-256",
      decodeStream: "the decode runs without the openContainer time",
      pairedZstd: "fast mode only: after each timed decode run the child also times zstd -d -T1 " +
        "-q -c of the file's zstd -3 output (process wall, output to /dev/null); " +
        "decode.pairedZstdMbps is their median",
      baselines: "tool run as a process on the file; compress once, decompress median of runs " +
        "(-c to /dev/null), wall time measured by the bench",
      zstdBench: "zstd -b3 -T1 <file>: zstd's own in-memory compress / decompress speeds",
      bound: "sum over tensors, 256 KiB chunks (chooseTiles) and byte planes (planeLayout + " +
        "splitPlanes) of order-0 entropy / 8; ratio = size / (that + header as stored, zstd -19)",
      contextBound: "as bound, with per-chunk conditional entropies: BF16/F32 exponent given the " +
        "previous exponent and sign|mantissa given the exponent; F16 and FP8 exponent field given " +
        "the previous one and the rest given it; other bytes' high nibble given the previous high " +
        "nibble and the low given the high (INT8 zigzagged); ...qweight tensors' nibbles given the " +
        "previous nibble; lower mantissa bytes at order 0",
      qweightBound: "...qweight tensors: raw bytes / order-0 entropy of their unpacked nibbles " +
        "per chunk; pack.qweightRatio is their raw bytes / stored chunk bytes",
      flags: "see bench/flags.ts: float files: bestRatioAboveTarget, fastRatioVsZipnn, " +
        "fastDecodeVsZstd, bestDecode250 (the 32 flags of earlier runs), bestAbovePrevious, " +
        "bestVsContextBound (BF16); FP8/INT8: bestAbovePeers, bestVsOrder0, fastVsBest, " +
        "fastDecodeVsZstd, bestDecode250; INT4: bestAbovePeers, qweightVsNibbleBound, bestDecode250",
    },
    peers: PEERS,
    files: results,
    big,
  };
  const reportText = report(results, big, machine, opts);
  await Deno.mkdir(RESULTS_DIR, { recursive: true });
  const jsonPath = opts.out ?? `${RESULTS_DIR}/${date.toISOString().slice(0, 10)}.json`;
  await Deno.writeTextFile(jsonPath, JSON.stringify(json, null, 2) + "\n");
  console.log(reportText);
  console.log("");
  console.log(`Results: ${jsonPath}`);
}

await main();
