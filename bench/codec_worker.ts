/**
 * Child process of `bench/codec_bench.ts`: runs one pack or one decode measurement in a fresh
 * process, so that its peak RSS belongs to that measurement alone, and prints one JSON line.
 *
 * ```
 * deno run -A bench/codec_worker.ts pack <input.safetensors> <output.tsr> <fast|best>
 * deno run -A bench/codec_worker.ts decode <container.tsr> <runs> <memory|disk> <warmup-ms> [<file.zst>]
 * ```
 *
 * `decode memory` reads the whole container into memory first (untimed) and warms up: at least
 * two untimed decodes and `warmup-ms` (none when 0); the first is reported as the cold time. Then
 * it times `runs` single-threaded decodes of the original file: open (index SHA-256 and parse)
 * plus the planner and assembler into reused block buffers, exactly as `unpack` reads (and as `zstd -d -c`
 * writes to /dev/null): the original header's SHA-256 and every chunk's decoded XXH32 are checked,
 * so no unverified byte comes out. The native kernels are used when built (`deno task native`). A last, untimed pass checks the whole file's SHA-256 and
 * size. `decode disk` streams from the file through `openFileReader` and never holds the
 * container.
 *
 * With a `.zst` file, each timed decode is followed by a timed `zstd -d -T1 -q -c` of it (process
 * wall, output to /dev/null), so that both medians come from the same stretch of time: on a shared
 * machine, measurements minutes apart can differ by a fifth.
 *
 * Peak RSS is `VmHWM` from `/proc/self/status` (the kernel's high-water mark); an RSS sampled
 * every 20 ms is reported beside it as a cross-check.
 * @module
 */
import { packFile } from "../src/pack/write.ts";
import { assemble } from "../src/container/assemble.ts";
import { openContainer } from "../src/container/open.ts";
import { countedBlocks, originalPieces, readOriginalHeader } from "../src/container/read.ts";
import { nativeBackends } from "../src/codec_native/backends.ts";
import { bufferSource } from "../src/container/source.ts";
import { openFileReader, type RandomAccessReader } from "../src/io/random_access.ts";
import { sha256 } from "../src/hash/sha256.ts";
import { losslessOf } from "../src/container/index_schema.ts";
import type { Mode } from "../codec/chunk_encode.ts";
import { zstdDecompressCommand } from "./zstd_command.ts";

/** Memory figures of this process, in bytes; null where `/proc` is unavailable. */
interface ProcMemory {
  peakRssBytes: number | null;
  rssBytes: number | null;
}

function procMemory(): ProcMemory {
  const kb = (text: string, key: string): number | null => {
    const m = text.match(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, "m"));
    return m ? Number(m[1]) * 1024 : null;
  };
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    return { peakRssBytes: kb(status, "VmHWM"), rssBytes: kb(status, "VmRSS") };
  } catch {
    return { peakRssBytes: null, rssBytes: null };
  }
}

/**
 * Samples `Deno.memoryUsage().rss` every `ms` while running (timers only fire between awaits, so
 * this can miss a peak inside synchronous work; VmHWM cannot). `stop` returns the maximum and a
 * timeline of `[seconds, rss]`, one point per `every` seconds at most.
 */
function rssSampler(ms = 20, every = 0.5): { stop(): { max: number; timeline: number[][] } } {
  const t0 = performance.now();
  let max = Deno.memoryUsage().rss, next = 0;
  const timeline: number[][] = [];
  const sample = () => {
    const rss = Deno.memoryUsage().rss, t = (performance.now() - t0) / 1000;
    max = Math.max(max, rss);
    if (t >= next) {
      timeline.push([Math.round(t * 100) / 100, rss]);
      next = t + every;
    }
  };
  sample();
  const id = setInterval(sample, ms);
  return {
    stop() {
      clearInterval(id);
      next = 0;
      sample();
      return { max, timeline };
    },
  };
}

/** The median; the mean of the middle two for an even count. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function emit(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
}

async function runPack(input: string, output: string, mode: Mode): Promise<void> {
  const inputBytes = (await Deno.stat(input)).size;
  const sampler = rssSampler();
  const t0 = performance.now();
  const index = await packFile(input, output, { mode });
  const seconds = (performance.now() - t0) / 1000;
  const sampled = sampler.stop();
  const mem = procMemory();
  const outputBytes = (await Deno.stat(output)).size;
  let chunks = 0, qRaw = 0, qStored = 0;
  for (const t of index.tensors) {
    const l = losslessOf(t);
    chunks += l.chunks.length;
    if (/(^|[./_])qweight$/.test(t.name)) {
      for (const c of l.chunks) qStored += c[1], qRaw += c[2];
    }
  }
  emit({
    ok: true,
    kind: "pack",
    mode,
    inputBytes,
    outputBytes,
    seconds,
    tensors: index.tensors.length,
    chunks,
    qweightRatio: qStored > 0 ? qRaw / qStored : null,
    peakRssBytes: mem.peakRssBytes,
    sampledPeakRssBytes: sampled.max,
    finalRssBytes: mem.rssBytes,
    rssTimeline: sampled.timeline,
  });
}

/** One full decode: open, then stream the original; returns bytes produced and seconds. */
async function decodeOnce(
  reader: RandomAccessReader,
  hash?: (part: Uint8Array) => void,
): Promise<
  { bytes: number; seconds: number; openSeconds: number; expected: number; expectedSha256: string }
> {
  const t0 = performance.now();
  const c = await openContainer(reader, nativeBackends());
  const t1 = performance.now();
  let bytes = 0;
  const pieces = originalPieces(c, await readOriginalHeader(c));
  for await (const part of assemble(c, countedBlocks(pieces), { recycle: true })) {
    bytes += part.length;
    hash?.(part);
  }
  const t2 = performance.now();
  return {
    bytes,
    seconds: (t2 - t0) / 1000,
    openSeconds: (t1 - t0) / 1000,
    expected: c.index.source.size,
    expectedSha256: c.index.source.sha256,
  };
}

async function runDecode(
  path: string,
  runs: number,
  source: "memory" | "disk",
  warmupMs: number,
  pairedZst: string | null,
): Promise<void> {
  const sampler = rssSampler();
  const containerBytes = (await Deno.stat(path)).size;
  const held = source === "memory" ? await Deno.readFile(path) : null;
  const open = async () => held ? bufferSource(held) : await openFileReader(path);
  const one = async () => {
    const reader = await open();
    try {
      const d = await decodeOnce(reader);
      if (d.bytes !== d.expected) {
        throw new Error(`decoded ${d.bytes} bytes, the index says ${d.expected}`);
      }
      return d;
    } finally {
      reader.close();
    }
  };
  // What the open alone costs in memory: the parsed index.
  let rssAfterOpenBytes: number | null = null;
  {
    const reader = await open();
    try {
      await openContainer(reader, nativeBackends());
      rssAfterOpenBytes = procMemory().rssBytes;
    } finally {
      reader.close();
    }
  }
  // Warm-up: the JIT needs a few passes before small files decode at full speed. The first
  // (cold) pass is reported too.
  const warmupSeconds: number[] = [];
  const w0 = performance.now();
  while (
    warmupMs > 0 && warmupSeconds.length < 50 &&
    (warmupSeconds.length < 2 || performance.now() - w0 < warmupMs)
  ) {
    warmupSeconds.push((await one()).seconds);
  }
  const runsSeconds: number[] = [], openSeconds: number[] = [], zstdSeconds: number[] = [];
  let originalBytes = 0;
  for (let r = 0; r < runs; r++) {
    const d = await one();
    originalBytes = d.bytes;
    runsSeconds.push(d.seconds);
    openSeconds.push(d.openSeconds);
    if (pairedZst) zstdSeconds.push(await zstdDecompressSeconds(pairedZst));
  }
  const sampled = sampler.stop();
  const mem = procMemory();
  // Untimed: the rebuilt file must hash to the SHA-256 recorded at pack time.
  let sha256Verified: boolean | null = null;
  if (source === "memory") {
    const reader = await open();
    try {
      const h = sha256();
      const d = await decodeOnce(reader, (p) => h.update(p));
      sha256Verified = d.bytes === d.expected && h.hex() === d.expectedSha256;
    } finally {
      reader.close();
    }
  }
  emit({
    ok: true,
    kind: "decode",
    source,
    kernel: nativeBackends().kernel ? "native" : "typescript",
    containerBytes,
    originalBytes,
    coldSeconds: warmupSeconds[0] ?? runsSeconds[0],
    warmupSeconds,
    runsSeconds,
    openSeconds,
    medianSeconds: median(runsSeconds),
    medianStreamSeconds: median(runsSeconds.map((s, i) => s - openSeconds[i])),
    pairedZstdSeconds: pairedZst ? zstdSeconds : null,
    pairedZstdMedianSeconds: pairedZst ? median(zstdSeconds) : null,
    peakRssBytes: mem.peakRssBytes,
    sampledPeakRssBytes: sampled.max,
    rssAfterOpenBytes,
    finalRssBytes: mem.rssBytes,
    rssTimeline: sampled.timeline,
    sha256Verified,
  });
}

/** Wall seconds of `zstd -d -T1 -q -c file > /dev/null`, as the bench times the tool itself. */
async function zstdDecompressSeconds(file: string): Promise<number> {
  const [cmd, args] = zstdDecompressCommand(file);
  const t0 = performance.now();
  const r = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  if (!r.success) throw new Error(`zstd -d failed: ${new TextDecoder().decode(r.stderr)}`);
  return seconds;
}

async function main(args: string[]): Promise<void> {
  const [kind, ...rest] = args;
  if (kind === "pack" && rest.length === 3 && (rest[2] === "fast" || rest[2] === "best")) {
    await runPack(rest[0], rest[1], rest[2]);
  } else if (
    kind === "decode" && (rest.length === 4 || rest.length === 5) && Number(rest[1]) >= 1 &&
    (rest[2] === "memory" || rest[2] === "disk") && Number(rest[3]) >= 0
  ) {
    const runs = Math.floor(Number(rest[1]));
    await runDecode(rest[0], runs, rest[2], Number(rest[3]), rest[4] ?? null);
  } else {
    throw new Error(
      "usage: codec_worker.ts pack <in> <out> <fast|best> | " +
        "decode <tsr> <runs> <memory|disk> <warmup-ms> [<file.zst>]",
    );
  }
}

try {
  await main(Deno.args);
} catch (e) {
  emit({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  Deno.exit(1);
}
