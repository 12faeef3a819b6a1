/**
 * Pass/fail flags of the codec bench, by kind of input:
 *
 * - the shared float files (the issue's peer table): best above the target, fast within 2% of
 *   ZipNN, fast decode at least zstd -d's, best decode at least 250 MB/s; best at or above the
 *   ratio it had before the adaptive planes; and for BF16, best at 98.5% of the issue's context
 *   bound;
 * - FP8 and INT8 inputs: best strictly above xz -6, zstd -19 and bzip2 -9 and at 99% of the
 *   per-chunk order-0 bound, fast within 3% of best, fast decode at least zstd -d's, best decode
 *   at least 250 MB/s;
 * - packed INT4 inputs: best strictly above every general-purpose peer, `qweight` tensors at 98%
 *   of their nibbles' order-0 bound, best decode at least 250 MB/s.
 * @module
 */
import type { Bound } from "./bounds.ts";
import type { BenchMode } from "./config.ts";
import type { DecodeResult, PackResult } from "./measure.ts";
import type { BaselineResult, PeerRow, ZstdBenchResult } from "./peers.ts";

/** One flag: the rule, its verdict (null when it could not be measured), value and threshold. */
export interface Flag {
  rule: string;
  pass: boolean | null;
  value: number | null;
  threshold: number | null;
  note?: string;
}

/** What kind of input a file is, for its flags. */
export type InputKind = "float" | "fp8" | "int8" | "int4";

/** Everything measured of one input. */
export interface FileResult {
  name: string;
  kind: InputKind;
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

/**
 * `best` ratios of the float files before this change set (bench/results/2026-11-25.json), which
 * `best` must stay above.
 */
export const PREVIOUS_BEST: Record<string, number> = {
  "stories260k.bf16": 1.54350190800421,
  "stories260k.fp16": 1.2048923908128815,
  "stories260k.fp32": 1.214131610468703,
  "ppocrv4.bf16": 1.469272949699486,
  "ppocrv4.fp16": 1.172622908506061,
  "ppocrv4.fp32": 1.1917819417353328,
  "human-fp32.bf16": 1.478222914970383,
  "human-fp32.fp32": 1.2060573947134252,
};

/** The BF16 targets: 98.5% of its per-chunk context bound. */
export const CONTEXT_TARGETS: Record<string, number> = {
  "stories260k.bf16": 1.545,
  "ppocrv4.bf16": 1.502,
  "human-fp32.bf16": 1.492,
};

/** A flag comparing `value` with `threshold`; null when either is missing. */
export function flag(
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

function ratioOf(f: FileResult, tool: string): number | undefined {
  return f.baselines.find((b) => b.tool === tool)?.ratio;
}

/** The flags of `f`, by its kind. */
export function flagsOf(f: FileResult): Record<string, Flag> {
  const fast = f.modes.fast, best = f.modes.best;
  const zstdD = f.baselines.find((b) => b.tool === "zstd -3");
  const bestFailed = `best pack failed: ${best.pack.error}`;
  const common = {
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
  const peers = (tools: string[]) => {
    const ratios = tools.map((t) => ratioOf(f, t));
    return ratios.some((r) => r === undefined) ? null : Math.max(...(ratios as number[]));
  };
  if (f.kind === "float") {
    const noPeer = "file is not in the peer table";
    const flags: Record<string, Flag> = {
      bestRatioAboveTarget: flag(
        "best ratio > target best",
        best.pack.ratio,
        f.peer?.targetBest,
        (v, t) => v > t,
        f.peer ? bestFailed : noPeer,
      ),
      fastRatioVsZipnn: flag(
        "fast ratio >= 0.98 x ZipNN file",
        fast.pack.ratio,
        f.peer ? 0.98 * f.peer.zipnnFile : null,
        (v, t) => v >= t,
        f.peer ? `fast pack failed: ${fast.pack.error}` : noPeer,
      ),
      ...common,
      // "Stays above its current ratio": no file may lose ratio to the adaptive planes.
      bestAbovePrevious: flag(
        "best ratio >= best before adaptive planes (2026-11-25)",
        best.pack.ratio,
        PREVIOUS_BEST[f.name],
        (v, t) => v >= t - 5e-7,
        PREVIOUS_BEST[f.name] ? bestFailed : "no previous figure",
      ),
    };
    if (CONTEXT_TARGETS[f.name]) {
      flags.bestVsContextBound = flag(
        "best ratio >= 98.5% of the issue's context bound",
        best.pack.ratio,
        CONTEXT_TARGETS[f.name],
        (v, t) => v >= t,
        bestFailed,
      );
    }
    return flags;
  }
  if (f.kind === "int4") {
    return {
      bestAbovePeers: flag(
        "best ratio > every general-purpose peer (zstd -3, zstd -19, bzip2 -9, xz -6)",
        best.pack.ratio,
        peers(["zstd -3", "zstd -19", "bzip2 -9", "xz -6"]),
        (v, t) => v > t,
        "a peer did not run",
      ),
      qweightVsNibbleBound: flag(
        "qweight tensors' best ratio >= 0.98 x their nibbles' order-0 bound",
        best.pack.qweightRatio,
        f.bound?.qweight ? 0.98 * f.bound.qweight.ratio : null,
        (v, t) => v >= t,
        "no qweight tensor or no bound",
      ),
      bestDecode250: common.bestDecode250,
    };
  }
  return {
    bestAbovePeers: flag(
      "best ratio > xz -6, zstd -19 and bzip2 -9",
      best.pack.ratio,
      peers(["zstd -19", "bzip2 -9", "xz -6"]),
      (v, t) => v > t,
      "a peer did not run",
    ),
    bestVsOrder0: flag(
      "best ratio >= 0.99 x per-chunk order-0 bound",
      best.pack.ratio,
      f.bound ? 0.99 * f.bound.ratio : null,
      (v, t) => v >= t,
      f.boundError ?? bestFailed,
    ),
    fastVsBest: flag(
      "fast ratio >= 0.97 x best ratio",
      fast.pack.ratio,
      best.pack.ratio ? 0.97 * best.pack.ratio : null,
      (v, t) => v >= t,
      `fast or best pack failed: ${fast.pack.error ?? best.pack.error}`,
    ),
    ...common,
  };
}
