/**
 * Codec benchmark: for every `../shared/data/*.safetensors`, in one run, the ratio, pack and
 * unpack speed and peak RSS of both modes, system compressors as baselines, the per-chunk order-0
 * entropy bound, the peer table from the issue and pass/fail flags; then one synthetic file over
 * 2 GB packed and decoded to show that memory stays flat. Writes `bench/results/<date>.json` and
 * prints markdown tables.
 *
 * ```
 * deno task bench [--quick] [--no-big] [--data DIR] [--files a,b] [--runs N] [--warmup-ms MS]
 *                 [--big-gb G] [--out FILE]
 * ```
 *
 * Every pack and decode runs in a child process (`bench/codec_worker.ts`) with a timeout, so its
 * peak RSS (`VmHWM`) is its own. Nothing is installed: a missing tool is skipped and reported.
 * Sizes are in bytes and speeds in MB/s with MB = 10^6 bytes, as zstd reports them.
 * @module
 */
import { planeLayout } from "../codec/dtype.ts";
import { splitPlanes } from "../codec/planes.ts";
import { chooseTiles, copyTileRegion, gridSize, tileRect } from "../codec/tiles.ts";
import { DEFAULT_CHUNK_BYTES } from "../src/container/format.ts";
import { nativeZstdCompress } from "../src/codec_native/zstd.ts";
import { bufferReader } from "../src/io/random_access.ts";
import { readSafetensorsHeader } from "../src/safetensors/parse.ts";
import { zstdDecompressCommand } from "./zstd_command.ts";
import { llamaPlan, writeBigFile } from "./big_file.ts";

// ---------------------------------------------------------------------------------------------
// Configuration

const CHUNK_BYTES = 256 * 1024;
if (DEFAULT_CHUNK_BYTES !== CHUNK_BYTES) {
  console.error(`note: the container's default chunk is ${DEFAULT_CHUNK_BYTES}, not 256 KiB`);
}
const MODES = ["fast", "best"] as const;
type BenchMode = typeof MODES[number];
const MB = 1e6;
const MIB = 1024 * 1024;

/** Ratios (original / compressed) from the issue, measured elsewhere; printed beside ours. */
interface PeerRow {
  zstd3: number;
  bzip2_9: number;
  xz6: number;
  zipnnFile: number;
  zipnnPerTensor: number;
  targetBest: number;
}
const PEERS: Record<string, PeerRow> = {
  "stories260k.bf16": row(1.326, 1.482, 1.455, 1.470, 1.467, 1.482),
  "stories260k.fp16": row(1.119, 1.137, 1.167, 1.161, 1.157, 1.167),
  "stories260k.fp32": row(1.081, 1.052, 1.105, 1.193, 1.190, 1.193),
  "ppocrv4.bf16": row(1.274, 1.406, 1.389, 1.445, 1.449, 1.449),
  "ppocrv4.fp16": row(1.096, 1.109, 1.132, 1.160, 1.164, 1.164),
  "ppocrv4.fp32": row(1.082, 1.054, 1.090, 1.185, 1.184, 1.185),
  "human-fp32.bf16": row(1.257, 1.393, 1.376, 1.443, 1.460, 1.460),
  "human-fp32.fp32": row(1.083, 1.055, 1.094, 1.196, 1.200, 1.200),
};
function row(
  zstd3: number,
  bzip2_9: number,
  xz6: number,
  zipnnFile: number,
  zipnnPerTensor: number,
  targetBest: number,
): PeerRow {
  return { zstd3, bzip2_9, xz6, zipnnFile, zipnnPerTensor, targetBest };
}

/** A system compressor run as a process on the file. */
interface Tool {
  readonly name: string;
  readonly bin: string;
  /** Every program the commands need. */
  readonly needs: readonly string[];
  readonly ext: string;
  /** Compress `input` into `output`. */
  compress(input: string, output: string): [string, string[]];
  /** Decompress `input` to stdout, which is sent to /dev/null. */
  decompress(input: string): [string, string[]];
  /** Skipped by `--quick` because it is slow. */
  readonly slow: boolean;
}
const viaShell = (cmd: string, input: string, output: string): [string, string[]] => [
  "sh",
  ["-c", `exec ${cmd} -- "$1" > "$2"`, "sh", input, output],
];
const TOOLS: readonly Tool[] = [
  {
    name: "zstd -3",
    bin: "zstd",
    needs: ["zstd"],
    ext: "zst",
    compress: (i, o) => ["zstd", ["-3", "-T1", "-q", "-f", "-o", o, "--", i]],
    decompress: zstdDecompressCommand,
    slow: false,
  },
  {
    name: "zstd -19",
    bin: "zstd",
    needs: ["zstd"],
    ext: "zst",
    compress: (i, o) => ["zstd", ["-19", "-T1", "-q", "-f", "-o", o, "--", i]],
    decompress: zstdDecompressCommand,
    slow: true,
  },
  {
    name: "bzip2 -9",
    bin: "bzip2",
    needs: ["bzip2", "sh"],
    ext: "bz2",
    compress: (i, o) => viaShell("bzip2 -9 -c", i, o),
    decompress: (i) => ["bzip2", ["-d", "-c", "--", i]],
    slow: false,
  },
  {
    name: "xz -6",
    bin: "xz",
    needs: ["xz", "sh"],
    ext: "xz",
    compress: (i, o) => viaShell("xz -6 -T1 -c", i, o),
    decompress: (i) => ["xz", ["-d", "-T1", "-c", "--", i]],
    slow: true,
  },
];

interface Options {
  dataDir: string;
  files: string[] | null;
  quick: boolean;
  big: boolean;
  runs: number;
  bigBytes: number;
  warmupMs: number;
  out: string | null;
}

const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");
/** Where workers run from: a snapshot of the code, so that edits during the run change nothing. */
const workerHome = { dir: REPO };
const RESULTS_DIR = `${REPO}/bench/results`;

function usage(): never {
  console.error(
    "usage: deno task bench [--quick] [--no-big] [--data DIR] [--files a,b] [--runs N] " +
      "[--warmup-ms MS] [--big-gb G] [--out FILE]\n" +
      "  --data DIR       where the *.safetensors are (default ../shared/data)\n" +
      "  --files a,b      only these files (stem or file name)\n" +
      "  --quick          3 runs, no zstd -19 / xz -6, short zstd -b, no big-file run\n" +
      "  --no-big         skip the synthetic >2 GB run\n" +
      "  --runs N         timed decode runs, median reported (default 5)\n" +
      "  --warmup-ms MS   untimed decode warm-up per child, at least 2 runs (default 500; 0 = none)\n" +
      "  --big-gb G       size of the synthetic file in GB (default 2.2)\n" +
      "  --out FILE       results JSON (default bench/results/<date>.json)",
  );
  Deno.exit(2);
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    dataDir: `${REPO}/../shared/data`,
    files: null,
    quick: false,
    big: true,
    runs: 5,
    bigBytes: 2.2e9,
    warmupMs: 500,
    out: null,
  };
  let runsGiven = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) usage();
      return v;
    };
    if (a === "--data") o.dataDir = value();
    else if (a === "--files") {
      o.files = value().split(",").map((s) => s.trim()).filter(Boolean).map(stem);
    } else if (a === "--quick") o.quick = true;
    else if (a === "--no-big") o.big = false;
    else if (a === "--runs") {
      o.runs = Math.floor(Number(value()));
      runsGiven = true;
      if (!(o.runs >= 1)) usage();
    } else if (a === "--warmup-ms") {
      o.warmupMs = Number(value());
      if (!(o.warmupMs >= 0)) usage();
    } else if (a === "--out") o.out = value();
    else if (a === "--big-gb") {
      o.bigBytes = Number(value()) * 1e9;
      if (!(o.bigBytes > 0)) usage();
    } else usage();
  }
  if (o.quick) {
    o.big = false;
    if (!runsGiven) o.runs = 3;
  }
  return o;
}

function stem(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return base.endsWith(".safetensors") ? base.slice(0, -".safetensors".length) : base;
}

// ---------------------------------------------------------------------------------------------
// Processes

interface ProcResult {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
  wallSeconds: number;
  timedOut: boolean;
  error?: string;
}

/** Runs a command with a timeout; never throws. stdout "null" sends it to /dev/null. */
async function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  stdout: "piped" | "null" = "piped",
  cwd = REPO,
): Promise<ProcResult> {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  const t0 = performance.now();
  try {
    const out = await new Deno.Command(cmd, {
      args,
      cwd,
      stdin: "null",
      stdout,
      stderr: "piped",
      signal: ac.signal,
    }).output();
    const wallSeconds = (performance.now() - t0) / 1000;
    const dec = new TextDecoder();
    const res: ProcResult = {
      ok: out.success && !timedOut,
      code: out.code,
      stdout: stdout === "piped" ? dec.decode(out.stdout) : "",
      stderr: dec.decode(out.stderr),
      wallSeconds,
      timedOut,
    };
    if (!res.ok) {
      res.error = timedOut
        ? `timed out after ${(timeoutMs / 1000).toFixed(0)} s`
        : `exit code ${out.code}${out.signal ? ` (signal ${out.signal})` : ""}: ${
          tail(res.stderr)
        }`;
    }
    return res;
  } catch (e) {
    return {
      ok: false,
      code: null,
      stdout: "",
      stderr: "",
      wallSeconds: (performance.now() - t0) / 1000,
      timedOut,
      error: timedOut ? `timed out after ${(timeoutMs / 1000).toFixed(0)} s` : errText(e),
    };
  } finally {
    clearTimeout(timer);
  }
}

function tail(s: string, n = 400): string {
  const t = s.trim();
  return t.length > n ? "…" + t.slice(-n) : t;
}

function errText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Runs the worker and parses its JSON line; failures come back as `{ ok: false, error }`. */
async function worker(
  args: string[],
  timeoutMs: number,
): Promise<Record<string, unknown> & { ok: boolean; error?: string }> {
  const r = await run(
    Deno.execPath(),
    ["run", "-A", "--quiet", `${workerHome.dir}/bench/codec_worker.ts`, ...args],
    timeoutMs,
    "piped",
    workerHome.dir,
  );
  const line = r.stdout.trim().split("\n").filter(Boolean).at(-1);
  let parsed: Record<string, unknown> | null = null;
  try {
    if (line) parsed = JSON.parse(line);
  } catch {
    parsed = null;
  }
  if (parsed && parsed.ok === true && r.ok) return parsed as { ok: true };
  const why = (parsed?.error as string | undefined) ?? r.error ?? "no result";
  return { ok: false, error: r.timedOut ? r.error : why };
}

async function which(bin: string): Promise<string | null> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const st = await Deno.stat(`${dir}/${bin}`);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return `${dir}/${bin}`;
    } catch {
      // not here
    }
  }
  return null;
}

/** Timeout for a process working through `bytes` at no less than `minRate` bytes per second. */
function timeoutFor(bytes: number, minRate: number, baseSeconds = 60): number {
  return (baseSeconds + bytes / minRate) * 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Entropy bound

interface Bound {
  /** Sum over chunks and planes of the order-0 entropy, in bytes. */
  entropyBytes: number;
  /** The original header as the container stores it (zstd -19 when smaller). */
  headerBytes: number;
  /** The original header verbatim: 8-byte prefix plus JSON. */
  rawHeaderBytes: number;
  dataBytes: number;
  chunks: number;
  tensors: number;
  /** original size / (entropyBytes + headerBytes). */
  ratio: number;
  /** data section / entropyBytes. */
  dataRatio: number;
}

/** Order-0 entropy of `plane`, in bits. */
function entropyBits(plane: Uint8Array, counts: Float64Array): number {
  counts.fill(0);
  for (let i = 0; i < plane.length; i++) counts[plane[i]]++;
  const n = plane.length;
  if (n === 0) return 0;
  let sum = 0;
  for (let s = 0; s < 256; s++) {
    const c = counts[s];
    if (c > 0) sum += c * Math.log2(c);
  }
  return n * Math.log2(n) - sum;
}

/** Tiles each tensor exactly as the writer does and sums the order-0 entropy of every plane. */
async function entropyBound(file: Uint8Array): Promise<Bound> {
  const header = await readSafetensorsHeader(bufferReader(file));
  const counts = new Float64Array(256);
  let bits = 0, chunks = 0;
  for (const t of header.tensors) {
    const layout = planeLayout(t.dtype);
    const w = layout.width;
    const g = chooseTiles(t.shape, w, CHUNK_BYTES);
    const [gr, gc] = gridSize(g);
    const data = file.subarray(header.dataStart + t.begin, header.dataStart + t.end);
    const whole = { r0: 0, r1: g.rows, c0: 0, c1: g.cols };
    for (let i = 0; i < gr * gc; i++) {
      const r = tileRect(g, i);
      const n = (r.r1 - r.r0) * (r.c1 - r.c0);
      const tile = new Uint8Array(n * w);
      copyTileRegion(g, i, tile, whole, data, true);
      const planes: Uint8Array[] = [];
      if (w === 1) planes.push(tile);
      else {
        const scratch = new Uint8Array(n * w);
        for (let p = 0; p < w; p++) planes.push(scratch.subarray(p * n, (p + 1) * n));
        splitPlanes(tile, w, layout.signMoved, planes);
      }
      for (const p of planes) bits += entropyBits(p, counts);
      chunks++;
    }
  }
  const packedHeader = nativeZstdCompress(header.headerBytes, 19).length;
  const headerBytes = Math.min(packedHeader, header.headerBytes.length);
  const entropyBytes = bits / 8;
  const dataBytes = file.length - header.dataStart;
  return {
    entropyBytes,
    headerBytes,
    rawHeaderBytes: header.dataStart,
    dataBytes,
    chunks,
    tensors: header.tensors.length,
    ratio: file.length / (entropyBytes + headerBytes),
    dataRatio: entropyBytes > 0 ? dataBytes / entropyBytes : Infinity,
  };
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface PackResult {
  ok: boolean;
  error?: string;
  containerBytes?: number;
  ratio?: number;
  seconds?: number;
  mbps?: number;
  peakRssBytes?: number | null;
  sampledPeakRssBytes?: number;
  rssTimeline?: number[][];
  chunks?: number;
}

interface DecodeResult {
  ok: boolean;
  error?: string;
  source?: "memory" | "disk";
  /** "native" when the C kernels decoded, else "typescript". */
  kernel?: string;
  runsSeconds?: number[];
  warmupRuns?: number;
  coldSeconds?: number;
  coldMbps?: number;
  medianSeconds?: number;
  mbps?: number;
  medianStreamSeconds?: number;
  streamMbps?: number;
  peakRssBytes?: number | null;
  sampledPeakRssBytes?: number;
  rssAfterOpenBytes?: number | null;
  rssTimeline?: number[][];
  sha256Verified?: boolean | null;
  /** `zstd -d -T1` of the file's zstd -3 output, timed after each decode run (fast mode). */
  pairedZstdRunsSeconds?: number[];
  /** Their median, as MB/s of original bytes. */
  pairedZstdMbps?: number;
}

async function measurePack(
  input: string,
  output: string,
  mode: BenchMode,
  size: number,
  timeoutMs: number,
): Promise<PackResult> {
  const w = await worker(["pack", input, output, mode], timeoutMs);
  if (!w.ok) return { ok: false, error: w.error };
  const seconds = w.seconds as number, containerBytes = w.outputBytes as number;
  return {
    ok: true,
    containerBytes,
    ratio: size / containerBytes,
    seconds,
    mbps: size / seconds / MB,
    peakRssBytes: w.peakRssBytes as number | null,
    sampledPeakRssBytes: w.sampledPeakRssBytes as number,
    rssTimeline: w.rssTimeline as number[][],
    chunks: w.chunks as number,
  };
}

async function measureDecode(
  container: string,
  size: number,
  runs: number,
  source: "memory" | "disk",
  warmupMs: number,
  timeoutMs: number,
  pairedZst: string | null = null,
): Promise<DecodeResult> {
  const w = await worker(
    [
      "decode",
      container,
      String(runs),
      source,
      String(warmupMs),
      ...(pairedZst ? [pairedZst] : []),
    ],
    timeoutMs,
  );
  if (!w.ok) return { ok: false, error: w.error };
  const med = w.medianSeconds as number, stream = w.medianStreamSeconds as number;
  const cold = w.coldSeconds as number;
  const res: DecodeResult = {
    ok: true,
    source,
    kernel: w.kernel as string,
    runsSeconds: w.runsSeconds as number[],
    warmupRuns: (w.warmupSeconds as number[]).length,
    coldSeconds: cold,
    coldMbps: size / cold / MB,
    medianSeconds: med,
    mbps: size / med / MB,
    medianStreamSeconds: stream,
    streamMbps: size / stream / MB,
    peakRssBytes: w.peakRssBytes as number | null,
    sampledPeakRssBytes: w.sampledPeakRssBytes as number,
    rssAfterOpenBytes: w.rssAfterOpenBytes as number | null,
    rssTimeline: w.rssTimeline as number[][],
    sha256Verified: w.sha256Verified as boolean | null,
  };
  if (Array.isArray(w.pairedZstdSeconds)) {
    res.pairedZstdRunsSeconds = w.pairedZstdSeconds as number[];
    res.pairedZstdMbps = size / (w.pairedZstdMedianSeconds as number) / MB;
  }
  if (w.sha256Verified === false) {
    res.ok = false;
    res.error = "decoded file does not match the original SHA-256";
  }
  return res;
}

interface BaselineResult {
  tool: string;
  available: boolean;
  skipped?: string;
  error?: string;
  compressedBytes?: number;
  ratio?: number;
  compressSeconds?: number;
  compressMbps?: number;
  decompressRunsSeconds?: number[];
  decompressMedianSeconds?: number;
  decompressMbps?: number;
}

async function measureTool(
  tool: Tool,
  available: boolean,
  input: string,
  size: number,
  tmp: string,
  opts: Options,
): Promise<BaselineResult> {
  const base: BaselineResult = { tool: tool.name, available };
  if (!available) return { ...base, skipped: `${tool.needs.join(" or ")} not found on PATH` };
  if (opts.quick && tool.slow) return { ...base, skipped: "--quick" };
  const out = `${tmp}/${stem(input)}.${tool.name.replace(/[^a-z0-9]/gi, "")}.${tool.ext}`;
  try {
    const [cmd, args] = tool.compress(input, out);
    const c = await run(cmd, args, timeoutFor(size, 100e3), "null");
    if (!c.ok) return { ...base, error: `compress: ${c.error}` };
    const compressedBytes = (await Deno.stat(out)).size;
    const runs: number[] = [];
    for (let r = 0; r < opts.runs; r++) {
      const [dcmd, dargs] = tool.decompress(out);
      const d = await run(dcmd, dargs, timeoutFor(size, 500e3), "null");
      if (!d.ok) return { ...base, compressedBytes, error: `decompress: ${d.error}` };
      runs.push(d.wallSeconds);
    }
    const med = median(runs);
    return {
      ...base,
      compressedBytes,
      ratio: size / compressedBytes,
      compressSeconds: c.wallSeconds,
      compressMbps: size / c.wallSeconds / MB,
      decompressRunsSeconds: runs,
      decompressMedianSeconds: med,
      decompressMbps: size / med / MB,
    };
  } catch (e) {
    return { ...base, error: errText(e) };
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

interface ZstdBenchResult {
  available: boolean;
  skipped?: string;
  error?: string;
  level?: number;
  ratio?: number;
  compressMbps?: number;
  decompressMbps?: number;
  raw?: string;
}

/** `zstd -b3 -T1`: zstd's own in-memory speeds, the harsher reference. */
async function zstdBench(input: string, available: boolean, quick: boolean) {
  const res: ZstdBenchResult = { available };
  if (!available) return { ...res, skipped: "zstd not found on PATH" };
  const args = ["-b3", "-T1", ...(quick ? ["-i1"] : []), "--", input];
  const r = await run("zstd", args, 180_000);
  if (!r.ok) return { ...res, error: r.error };
  const text = `${r.stdout}\n${r.stderr}`;
  const re = /(\d+)\s*->\s*(\d+)\s*\(x?([\d.]+)\),\s*([\d.]+)\s*MB\/s\s*,\s*([\d.]+)\s*MB\/s/g;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m;
  if (!last) return { ...res, error: `unparsed output: ${tail(text, 200)}` };
  return {
    ...res,
    level: 3,
    ratio: Number(last[1]) / Number(last[2]),
    compressMbps: Number(last[4]),
    decompressMbps: Number(last[5]),
    raw: last[0],
  };
}

// ---------------------------------------------------------------------------------------------
// Flags

interface Flag {
  rule: string;
  pass: boolean | null;
  value: number | null;
  threshold: number | null;
  note?: string;
}

interface FileResult {
  name: string;
  path: string;
  sizeBytes: number;
  tensors: number | null;
  bound: Bound | null;
  boundError?: string;
  modes: Record<BenchMode, { pack: PackResult; decode: DecodeResult | null }>;
  baselines: BaselineResult[];
  zstdBench: ZstdBenchResult;
  peer: PeerRow | null;
  flags: Record<string, Flag>;
}

function flag(
  rule: string,
  value: number | null | undefined,
  threshold: number | null | undefined,
  cmp: (v: number, t: number) => boolean,
  missing: string,
): Flag {
  if (value == null || threshold == null || !Number.isFinite(value)) {
    return { rule, pass: null, value: value ?? null, threshold: threshold ?? null, note: missing };
  }
  return { rule, pass: cmp(value, threshold), value, threshold };
}

function flagsOf(f: FileResult): Record<string, Flag> {
  const fast = f.modes.fast, best = f.modes.best;
  const zstdD = f.baselines.find((b) => b.tool === "zstd -3");
  const noPeer = "file is not in the peer table";
  return {
    bestRatioAboveTarget: flag(
      "best ratio > target best",
      best.pack.ratio,
      f.peer?.targetBest,
      (v, t) => v > t,
      f.peer ? `best pack failed: ${best.pack.error}` : noPeer,
    ),
    fastRatioVsZipnn: flag(
      "fast ratio >= 0.98 x ZipNN file",
      fast.pack.ratio,
      f.peer ? 0.98 * f.peer.zipnnFile : null,
      (v, t) => v >= t,
      f.peer ? `fast pack failed: ${fast.pack.error}` : noPeer,
    ),
    fastDecodeVsZstd: flag(
      fast.decode?.pairedZstdMbps !== undefined
        ? "fast decode MB/s >= zstd -d -T1 MB/s (zstd -3 file, process wall), run by run in turn"
        : "fast decode MB/s >= zstd -d -T1 MB/s (zstd -3 file, process wall)",
      fast.decode?.ok ? fast.decode.mbps : null,
      fast.decode?.pairedZstdMbps ?? zstdD?.decompressMbps,
      (v, t) => v >= t,
      !fast.decode?.ok
        ? `fast decode failed: ${fast.decode?.error ?? "not run"}`
        : `zstd -3: ${zstdD?.skipped ?? zstdD?.error ?? "no result"}`,
    ),
    bestDecode250: flag(
      "best decode MB/s >= 250",
      best.decode?.ok ? best.decode.mbps : null,
      250,
      (v, t) => v >= t,
      `best decode failed: ${best.decode?.error ?? "not run"}`,
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// The big synthetic file

interface BigResult {
  skipped?: string;
  error?: string;
  source?: string;
  sizeBytes?: number;
  layers?: number;
  tensors?: number;
  headerBytes?: number;
  tensorSelection?: string;
  buildSeconds?: number;
  freeBytesBefore?: number;
  pack?: PackResult;
  decode?: DecodeResult;
  reference?: { sizeBytes: number; tensors: number; pack: PackResult; decode: DecodeResult };
  rssGrowth?: { pack: number | null; decode: number | null };
}

async function freeBytes(dir: string): Promise<number | null> {
  const r = await run("df", ["-Pk", dir], 30_000);
  if (!r.ok) return null;
  const cols = r.stdout.trim().split("\n").at(-1)?.split(/\s+/);
  const kb = cols ? Number(cols[3]) : NaN;
  return Number.isFinite(kb) ? kb * 1024 : null;
}

const BIG_SOURCE = "human-fp32.bf16";

async function bigRun(opts: Options, tmpRoot: string): Promise<BigResult> {
  const srcPath = `${opts.dataDir}/${BIG_SOURCE}.safetensors`;
  let src: Uint8Array;
  try {
    src = await Deno.readFile(srcPath);
  } catch (e) {
    return { skipped: `source ${srcPath} unreadable: ${errText(e)}` };
  }
  const free = await freeBytes(tmpRoot);
  if (free === null) return { skipped: `could not read free space of ${tmpRoot} with df` };
  if (free < 8e9) {
    return {
      skipped: `only ${(free / 1e9).toFixed(1)} GB free in ${tmpRoot}, 8 GB needed`,
      freeBytesBefore: free,
    };
  }
  const dir = await Deno.makeTempDir({ dir: tmpRoot, prefix: "big-" });
  const res: BigResult = { source: BIG_SOURCE, freeBytesBefore: free };
  try {
    const header = await readSafetensorsHeader(bufferReader(src));
    const plan = llamaPlan(opts.bigBytes);
    res.tensorSelection = `a Llama-style BF16 checkpoint with TinyLlama-1.1B's geometry ` +
      `(${plan.length} tensors) filled with the real weights of ${BIG_SOURCE}, repeated`;

    // Reference: the source file itself, packed and then decoded from disk.
    const refTsr = `${dir}/ref.tsr`;
    log(`big: reference pack + disk decode of ${BIG_SOURCE}`);
    const refPack = await measurePack(
      srcPath,
      refTsr,
      "fast",
      src.length,
      timeoutFor(src.length, 250e3),
    );
    const refDecode = refPack.ok
      ? await measureDecode(
        refTsr,
        src.length,
        1,
        "disk",
        opts.warmupMs,
        timeoutFor(src.length * 4, 500e3) + opts.warmupMs,
      )
      : { ok: false, error: "reference pack failed" };
    res.reference = {
      sizeBytes: src.length,
      tensors: header.tensors.length,
      pack: refPack,
      decode: refDecode,
    };
    await Deno.remove(refTsr).catch(() => {});

    const bigPath = `${dir}/big.safetensors`, bigTsr = `${dir}/big.tsr`;
    log(`big: writing a ${(opts.bigBytes / 1e9).toFixed(1)} GB safetensors file`);
    const t0 = performance.now();
    const built = await writeBigFile(src.subarray(header.dataStart), plan, bigPath);
    res.buildSeconds = (performance.now() - t0) / 1000;
    Object.assign(res, {
      sizeBytes: built.size,
      layers: built.layers,
      tensors: built.tensors,
      headerBytes: built.headerBytes,
    });
    log(`big: packing ${(built.size / 1e9).toFixed(2)} GB (fast)`);
    res.pack = await measurePack(bigPath, bigTsr, "fast", built.size, timeoutFor(built.size, 2e6));
    // The source is no longer needed; free the disk before decoding.
    await Deno.remove(bigPath).catch(() => {});
    if (res.pack.ok) {
      log(`big: decoding from disk`);
      res.decode = await measureDecode(
        bigTsr,
        built.size,
        1,
        "disk",
        0,
        timeoutFor(built.size, 2e6),
      );
    } else res.decode = { ok: false, error: "pack failed" };
    const growth = (a?: number | null, b?: number | null) => (a && b ? a / b : null);
    res.rssGrowth = {
      pack: growth(res.pack.peakRssBytes, refPack.peakRssBytes),
      decode: growth(res.decode.peakRssBytes, refDecode.peakRssBytes),
    };
  } catch (e) {
    res.error = errText(e);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// Code snapshot

// native/build holds the kernels `deno task bench` has just built; absent, workers use TypeScript.
const SNAPSHOT = [
  "codec",
  "src",
  "native/build",
  "bench/codec_worker.ts",
  "bench/zstd_command.ts",
  "deno.json",
  "deno.lock",
];

async function listFiles(path: string): Promise<string[]> {
  const st = await Deno.stat(`${REPO}/${path}`);
  if (st.isFile) return [path];
  const out: string[] = [];
  for await (const e of Deno.readDir(`${REPO}/${path}`)) {
    if (e.isFile) out.push(`${path}/${e.name}`);
    else if (e.isDirectory) out.push(...await listFiles(`${path}/${e.name}`));
  }
  return out;
}

const hexOf = (bytes: ArrayBuffer) =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Copies the code the workers run into `dir`, so that every child of one run measures the same
 * code even while others edit the tree; returns a SHA-256 over the paths and contents of the
 * copied codec/ and src/ files.
 */
async function snapshotCode(dir: string): Promise<{ files: number; sourceSha256: string }> {
  const files: string[] = [];
  for (const p of SNAPSHOT) {
    try {
      files.push(...await listFiles(p));
    } catch {
      // deno.lock may be absent
    }
  }
  files.sort();
  const lines: string[] = [];
  for (const f of files) {
    const bytes = await Deno.readFile(`${REPO}/${f}`);
    const to = `${dir}/${f}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(to, bytes);
    if (f.startsWith("codec/") || f.startsWith("src/")) {
      lines.push(`${f} ${hexOf(await crypto.subtle.digest("SHA-256", bytes))}`);
    }
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lines.join("\n")));
  return { files: files.length, sourceSha256: hexOf(digest) };
}

// ---------------------------------------------------------------------------------------------
// Machine

async function machineInfo() {
  let cpu: string | null = null, memTotal: number | null = null;
  try {
    cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/^model name\s*:\s*(.+)$/m)?.[1] ??
      null;
  } catch { /* not Linux */ }
  try {
    const kb = (await Deno.readTextFile("/proc/meminfo")).match(/^MemTotal:\s+(\d+)/m)?.[1];
    memTotal = kb ? Number(kb) * 1024 : null;
  } catch { /* not Linux */ }
  const firstLine = async (cmd: string, args: string[]) => {
    const r = await run(cmd, args, 10_000);
    return r.ok ? (r.stdout || r.stderr).trim().split("\n")[0] : null;
  };
  return {
    cpu,
    nproc: navigator.hardwareConcurrency,
    memTotalBytes: memTotal,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    gitCommit: await firstLine("git", ["rev-parse", "HEAD"]),
    gitDirty: await (async () => {
      const r = await run("git", ["status", "--porcelain", "--", "codec", "src"], 10_000);
      return r.ok ? r.stdout.split("\n").filter(Boolean) : null;
    })(),
    codeSnapshot: null as { files: number; sourceSha256: string } | null,
    loadavgStart: Deno.loadavg(),
    loadavgEnd: null as number[] | null,
    tools: {
      zstd: await firstLine("zstd", ["--version"]),
      xz: await firstLine("xz", ["--version"]),
      bzip2: await (async () => {
        const r = await run("bzip2", ["--help"], 10_000);
        return r.stderr.trim().split("\n")[0] || null;
      })(),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Output

const fx = (v: number | null | undefined, d: number) =>
  v == null || !Number.isFinite(v) ? "—" : v.toFixed(d);
const mib = (v: number | null | undefined) => (v == null ? "—" : (v / MIB).toFixed(0));
const mbps = (v: number | null | undefined) =>
  v == null || !Number.isFinite(v) ? "—" : v >= 100 ? v.toFixed(0) : v.toFixed(1);

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)]
    .join("\n");
}

function baselineCell(b: BaselineResult | undefined, pick: (b: BaselineResult) => string): string {
  if (!b) return "—";
  if (b.skipped) return b.available ? "skip" : "missing";
  if (b.error) return "FAIL";
  return pick(b);
}

function flagCell(f: Flag, d: number): string {
  if (f.pass === null) return "n/a";
  return `${f.pass ? "PASS" : "FAIL"} ${fx(f.value, d)} vs ${fx(f.threshold, d)}`;
}

function report(results: FileResult[], big: BigResult | null, machine: unknown, opts: Options) {
  const m = machine as Awaited<ReturnType<typeof machineInfo>>;
  const out: string[] = [];
  out.push(`# Tessera codec bench, ${new Date().toISOString()}`);
  out.push("");
  out.push(
    `${m.cpu ?? "unknown cpu"}, ${m.nproc} cores, Deno ${m.deno}, load ${
      m.loadavgStart.map((x) => x.toFixed(2)).join(" ")
    } at start. MB = 10^6 bytes; decode figures are medians of ${opts.runs} runs (more for small files, at least 50 MB of output).`,
  );
  out.push(
    `Code: commit ${m.gitCommit?.slice(0, 10) ?? "?"}${
      m.gitDirty?.length ? ` + ${m.gitDirty.length} uncommitted path(s) in codec/ src/` : ""
    }; workers ran ${
      m.codeSnapshot
        ? `a snapshot taken at start (sha256 ${m.codeSnapshot.sourceSha256.slice(0, 12)})`
        : "the live tree"
    }.`,
  );
  out.push("");
  out.push("## Ratios (original / compressed); peer columns are the fixed table from the issue");
  out.push("");
  const by = (f: FileResult, t: string) => f.baselines.find((b) => b.tool === t);
  out.push(table(
    [
      "file",
      "MB",
      "fast",
      "best",
      "bound",
      "zstd -3",
      "zstd -19",
      "bzip2 -9",
      "xz -6",
      "peer zstd -3",
      "peer bzip2 -9",
      "peer xz -6",
      "ZipNN file",
      "ZipNN tensor",
      "target best",
    ],
    results.map((f) => [
      f.name,
      fx(f.sizeBytes / MB, 1),
      f.modes.fast.pack.ok ? fx(f.modes.fast.pack.ratio, 3) : "FAIL",
      f.modes.best.pack.ok ? fx(f.modes.best.pack.ratio, 3) : "FAIL",
      fx(f.bound?.ratio, 3),
      ...["zstd -3", "zstd -19", "bzip2 -9", "xz -6"].map((t) =>
        baselineCell(by(f, t), (b) => fx(b.ratio, 3))
      ),
      fx(f.peer?.zstd3, 3),
      fx(f.peer?.bzip2_9, 3),
      fx(f.peer?.xz6, 3),
      fx(f.peer?.zipnnFile, 3),
      fx(f.peer?.zipnnPerTensor, 3),
      fx(f.peer?.targetBest, 3),
    ]),
  ));
  out.push("");
  out.push(
    "bound: per-chunk order-0 entropy of every byte plane (256 KiB chunks, tiled and split as " +
      "the codec does) plus the original header as stored (zstd -19). It bounds order-0 " +
      "coders only: a zstd-coded plane with repeats can beat it.",
  );
  out.push("");
  out.push("## Speed, MB/s (pack/compress once; decode = median)");
  out.push("");
  out.push(table(
    [
      "file",
      "fast pack",
      "fast dec",
      "fast dec stream",
      "fast dec cold",
      "best pack",
      "best dec",
      "best dec stream",
      "best dec cold",
      "zstd -d in turn",
      "zstd -3 c/d",
      "zstd -19 c/d",
      "bzip2 -9 c/d",
      "xz -6 c/d",
      "zstd -b3 -T1 c/d",
    ],
    results.map((f) => {
      const cells: string[] = [f.name];
      for (const mode of MODES) {
        const { pack, decode } = f.modes[mode];
        cells.push(pack.ok ? mbps(pack.mbps) : "FAIL");
        cells.push(decode?.ok ? mbps(decode.mbps) : decode ? "FAIL" : "—");
        cells.push(decode?.ok ? mbps(decode.streamMbps) : "—");
        cells.push(decode?.ok ? mbps(decode.coldMbps) : "—");
      }
      const paired = f.modes.fast.decode?.pairedZstdMbps;
      cells.push(paired === undefined ? "—" : mbps(paired));
      for (const t of ["zstd -3", "zstd -19", "bzip2 -9", "xz -6"]) {
        cells.push(
          baselineCell(by(f, t), (b) => `${mbps(b.compressMbps)} / ${mbps(b.decompressMbps)}`),
        );
      }
      const zb = f.zstdBench;
      cells.push(
        zb.skipped
          ? (zb.available ? "skip" : "missing")
          : zb.error
          ? "FAIL"
          : `${mbps(zb.compressMbps)} / ${mbps(zb.decompressMbps)}`,
      );
      return cells;
    }),
  ));
  out.push("");
  out.push(
    "dec: open the container held in memory (index SHA-256 + parse) and stream the whole " +
      "original, checking the header SHA-256 and the decoded XXH32 of every chunk (as unpack and the server do), one thread; " +
      `median of ${opts.runs} runs (more for small files: at least 50 MB of output) after ${
        opts.warmupMs > 0 ? `an untimed warm-up (>= 2 runs, >= ${opts.warmupMs} ms)` : "no warm-up"
      }. dec stream: the same without the open. dec cold: the first decode in a fresh ` +
      "process (JIT cold). zstd -d in turn: zstd -d -T1 of the zstd -3 file run after each " +
      "timed fast decode, in the same stretch of time, median; the fast decode flag compares " +
      "with it. System tools: process wall time, output to /dev/null, median of " +
      `${opts.runs}. zstd -b3 -T1: zstd's own in-memory benchmark.`,
  );
  out.push("");
  out.push("## Peak RSS, MiB (VmHWM of the child process)");
  out.push("");
  out.push(table(
    ["file", "fast pack", "fast decode", "best pack", "best decode"],
    results.map((f) => [
      f.name,
      ...MODES.flatMap((mode) => {
        const { pack, decode } = f.modes[mode];
        return [
          pack.ok ? mib(pack.peakRssBytes) : "FAIL",
          decode?.ok ? mib(decode.peakRssBytes) : "—",
        ];
      }),
    ]),
  ));
  out.push("");
  out.push("Decode RSS includes the whole container held in memory.");
  out.push("");
  out.push("## Pass/fail");
  out.push("");
  out.push(table(
    [
      "file",
      "best ratio > target",
      "fast ratio >= 0.98 ZipNN file",
      "fast dec >= zstd -d -T1",
      "best dec >= 250 MB/s",
    ],
    results.map((f) => [
      f.name,
      flagCell(f.flags.bestRatioAboveTarget, 3),
      flagCell(f.flags.fastRatioVsZipnn, 3),
      flagCell(f.flags.fastDecodeVsZstd, 0),
      flagCell(f.flags.bestDecode250, 0),
    ]),
  ));
  const counts = { pass: 0, fail: 0, na: 0 };
  for (const f of results) {
    for (const fl of Object.values(f.flags)) {
      if (fl.pass === true) counts.pass++;
      else if (fl.pass === false) counts.fail++;
      else counts.na++;
    }
  }
  out.push("");
  out.push(`Flags: ${counts.pass} pass, ${counts.fail} fail, ${counts.na} n/a.`);
  const problems: string[] = [];
  for (const f of results) {
    for (const mode of MODES) {
      const { pack, decode } = f.modes[mode];
      if (!pack.ok) problems.push(`${f.name} ${mode} pack: ${pack.error}`);
      if (decode && !decode.ok) problems.push(`${f.name} ${mode} decode: ${decode.error}`);
    }
    for (const b of f.baselines) {
      if (b.error) problems.push(`${f.name} ${b.tool}: ${b.error}`);
      if (b.skipped) problems.push(`${f.name} ${b.tool}: skipped (${b.skipped})`);
    }
    if (f.zstdBench.error) problems.push(`${f.name} zstd -b3: ${f.zstdBench.error}`);
    if (f.zstdBench.skipped) problems.push(`${f.name} zstd -b3: skipped (${f.zstdBench.skipped})`);
    if (f.boundError) problems.push(`${f.name} bound: ${f.boundError}`);
    for (const fl of Object.values(f.flags)) {
      if (fl.pass === null && fl.note) problems.push(`${f.name} flag "${fl.rule}": ${fl.note}`);
    }
  }
  if (problems.length) {
    out.push("");
    out.push("Failures and skips:");
    for (const p of problems) out.push(`- ${p}`);
  }
  out.push("");
  out.push("## Large file (> 2 GB, fast mode)");
  out.push("");
  if (!big) out.push("Not run.");
  else if (big.skipped) out.push(`Skipped: ${big.skipped}.`);
  else {
    if (big.error) out.push(`Error: ${big.error}`);
    out.push(
      `Synthetic ${BIG_SOURCE} x ${big.layers ?? "?"} layers: ${
        fx((big.sizeBytes ?? 0) / 1e9, 2)
      } GB, ` +
        `${big.tensors ?? "?"} tensors, ${fx((big.headerBytes ?? 0) / MB, 1)} MB header; ` +
        `${big.tensorSelection ?? ""}.`,
    );
    out.push("");
    const ref = big.reference;
    const rows: string[][] = [];
    const add = (label: string, size: number | undefined, p?: PackResult, d?: DecodeResult) =>
      rows.push([
        label,
        fx((size ?? NaN) / MB, 1),
        p?.ok ? fx(p.ratio, 3) : "FAIL",
        p?.ok ? mbps(p.mbps) : "FAIL",
        p?.ok ? mib(p.peakRssBytes) : "—",
        d?.ok ? mbps(d.mbps) : "FAIL",
        d?.ok ? mib(d.peakRssBytes) : "—",
        d?.ok ? mib(d.rssAfterOpenBytes) : "—",
      ]);
    if (ref) add(`${BIG_SOURCE} (reference)`, ref.sizeBytes, ref.pack, ref.decode);
    add("synthetic", big.sizeBytes, big.pack, big.decode);
    out.push(table(
      [
        "file",
        "MB",
        "ratio",
        "pack MB/s",
        "pack RSS MiB",
        "disk decode MB/s",
        "decode RSS MiB",
        "RSS after open MiB",
      ],
      rows,
    ));
    out.push("");
    out.push(
      `Peak RSS synthetic / reference: pack x${fx(big.rssGrowth?.pack, 2)}, decode x${
        fx(big.rssGrowth?.decode, 2)
      } for x${fx((big.sizeBytes ?? NaN) / (ref?.sizeBytes ?? NaN), 0)} the bytes. ` +
        "Both decodes stream from disk (openFileReader); the reference after a warm-up, the " +
        "synthetic file once, cold. RSS after open: right after openContainer (parsed index), " +
        "before any chunk is decoded.",
    );
    const over = (tl?: number[][]) => {
      if (!tl || tl.length < 2) return "—";
      const end = tl[tl.length - 1][0];
      return [0.1, 0.25, 0.5, 0.75, 0.9].map((q) => {
        const p = tl.find(([t]) => t >= q * end) ?? tl[tl.length - 1];
        return mib(p[1]);
      }).join(" / ");
    };
    out.push("");
    out.push(
      `Synthetic RSS (MiB, sampled) at 10 / 25 / 50 / 75 / 90% of the run: pack ${
        over(big.pack?.rssTimeline)
      }; decode ${over(big.decode?.rssTimeline)}.`,
    );
    const working = (d?: DecodeResult) =>
      d?.ok && d.peakRssBytes != null && d.rssAfterOpenBytes != null
        ? mib(d.peakRssBytes - d.rssAfterOpenBytes)
        : "—";
    out.push(
      `Decode peak minus RSS after open (streaming working set): reference ${
        working(ref?.decode)
      } MiB, synthetic ${working(big.decode)} MiB. RSS after open (parsed index): reference ${
        mib(ref?.decode.rssAfterOpenBytes)
      } MiB for ${ref?.tensors ?? "?"} tensors, synthetic ${
        mib(big.decode?.rssAfterOpenBytes)
      } MiB for ${big.tensors ?? "?"} tensors.`,
    );
    for (const [what, r] of [["pack", big.pack], ["decode", big.decode]] as const) {
      if (r && !r.ok) out.push(`- ${what} failed: ${r.error}`);
    }
  }
  return out.join("\n");
}

function log(msg: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  const machine = await machineInfo();
  const found = new Map<string, boolean>();
  for (const bin of new Set(["zstd", ...TOOLS.flatMap((t) => t.needs)])) {
    found.set(bin, (await which(bin)) !== null);
  }
  const usable = (t: Tool) => t.needs.every((b) => found.get(b));

  let names: string[];
  try {
    opts.dataDir = await Deno.realPath(opts.dataDir);
    names = [];
    for await (const e of Deno.readDir(opts.dataDir)) {
      if (e.isFile && e.name.endsWith(".safetensors")) names.push(stem(e.name));
    }
  } catch (e) {
    console.error(`cannot read data directory ${opts.dataDir}: ${errText(e)}`);
    Deno.exit(1);
  }
  // The issue's order first, then anything else alphabetically.
  const order = Object.keys(PEERS);
  const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
  names.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  if (opts.files) {
    const unknown = opts.files.filter((f) => !names.includes(f));
    if (unknown.length) console.error(`note: not in ${opts.dataDir}: ${unknown.join(", ")}`);
    names = names.filter((n) => opts.files!.includes(n));
  }
  if (names.length === 0) console.error("note: no files to benchmark");

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
  let big: BigResult | null = null;
  try {
    for (const name of names) {
      const path = `${opts.dataDir}/${name}.safetensors`;
      const bytes = await Deno.readFile(path);
      const size = bytes.length;
      log(`${name}: ${(size / MB).toFixed(1)} MB`);
      let bound: Bound | null = null, boundError: string | undefined;
      try {
        bound = await entropyBound(bytes);
      } catch (e) {
        boundError = errText(e);
      }
      // The fast decode alternates with zstd -d of this file's zstd -3 output, run by run.
      let pairedZst: string | null = null;
      if (found.get("zstd")) {
        const zst = `${tmp}/${name}.paired.zst`;
        const [cmd, args] = TOOLS[0].compress(path, zst);
        if ((await run(cmd, args, timeoutFor(size, 100e3), "null")).ok) pairedZst = zst;
      }
      const modes = {} as FileResult["modes"];
      for (const mode of MODES) {
        const tsr = `${tmp}/${name}.${mode}.tsr`;
        log(`${name}: pack ${mode}`);
        const pack = await measurePack(path, tsr, mode, size, timeoutFor(size, 250e3));
        let decode: DecodeResult | null = null;
        if (pack.ok) {
          // A small file decodes in a few milliseconds, where one GC pause moves a median: time at
          // least about 50 MB of output, whatever the file size.
          const runs = Math.max(opts.runs, Math.min(101, Math.ceil(50e6 / size) | 1));
          log(`${name}: decode ${mode} x${runs}`);
          decode = await measureDecode(
            tsr,
            size,
            runs,
            "memory",
            opts.warmupMs,
            timeoutFor(size * (runs + 3), 500e3) + opts.warmupMs +
              (mode === "fast" && pairedZst ? timeoutFor(size * runs, 200e3) : 0),
            mode === "fast" ? pairedZst : null,
          );
        }
        await Deno.remove(tsr).catch(() => {});
        modes[mode] = { pack, decode };
      }
      if (pairedZst) await Deno.remove(pairedZst).catch(() => {});
      const baselines: BaselineResult[] = [];
      for (const tool of TOOLS) {
        log(`${name}: ${tool.name}`);
        baselines.push(
          await measureTool(tool, usable(tool), path, size, tmp, opts),
        );
      }
      log(`${name}: zstd -b3 -T1`);
      const zb = await zstdBench(path, found.get("zstd") ?? false, opts.quick);
      const f: FileResult = {
        name,
        path,
        sizeBytes: size,
        tensors: bound?.tensors ?? null,
        bound,
        boundError,
        modes,
        baselines,
        zstdBench: zb,
        peer: PEERS[name] ?? null,
        flags: {},
      };
      f.flags = flagsOf(f);
      results.push(f);
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
    schema: "tessera-codec-bench/1",
    date: date.toISOString(),
    machine,
    options: {
      dataDir: opts.dataDir,
      files: names,
      quick: opts.quick,
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
        "openContainer(bufferReader(bytes)) + decodeOriginal into a reused 1 MiB block (every " +
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
      flags: "bestRatioAboveTarget: best > target best; fastRatioVsZipnn: fast >= 0.98 x ZipNN " +
        "file; fastDecodeVsZstd: fast decode >= zstd -d -T1 of the zstd -3 file (process wall), " +
        "taken run by run in turn with the decode (pairedZstd) when zstd is installed; " +
        "bestDecode250: best decode >= 250 MB/s",
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
