/**
 * Pack and decode measurements, each in a child process.
 * @module
 */
import { type BenchMode, MB } from "./config.ts";
import { worker } from "./processes.ts";

export interface PackResult {
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
  /** `...qweight` tensors: their raw bytes over their stored chunk bytes; absent without any. */
  qweightRatio?: number;
}

export interface DecodeResult {
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

export async function measurePack(
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
    qweightRatio: (w.qweightRatio as number | null) ?? undefined,
  };
}

export async function measureDecode(
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
