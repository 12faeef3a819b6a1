/**
 * General-purpose compressors as the bench runs them, and the peer table from the issue.
 * @module
 */
import { zstdDecompressCommand } from "./zstd_command.ts";
import { MB } from "./config.ts";
import type { Options } from "./options.ts";
import { errText, median, run, tail, timeoutFor } from "./processes.ts";
import { stem } from "./config.ts";

/** Ratios (original / compressed) from the issue, measured elsewhere; printed beside ours. */
export interface PeerRow {
  zstd3: number;
  bzip2_9: number;
  xz6: number;
  zipnnFile: number;
  zipnnPerTensor: number;
  targetBest: number;
}
export const PEERS: Record<string, PeerRow> = {
  "stories260k.bf16": row(1.326, 1.482, 1.455, 1.470, 1.467, 1.482),
  "stories260k.fp16": row(1.119, 1.137, 1.167, 1.161, 1.157, 1.167),
  "stories260k.fp32": row(1.081, 1.052, 1.105, 1.193, 1.190, 1.193),
  "ppocrv4.bf16": row(1.274, 1.406, 1.389, 1.445, 1.449, 1.449),
  "ppocrv4.fp16": row(1.096, 1.109, 1.132, 1.160, 1.164, 1.164),
  "ppocrv4.fp32": row(1.082, 1.054, 1.090, 1.185, 1.184, 1.185),
  "human-fp32.bf16": row(1.257, 1.393, 1.376, 1.443, 1.460, 1.460),
  "human-fp32.fp32": row(1.083, 1.055, 1.094, 1.196, 1.200, 1.200),
};
export function row(
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
export interface Tool {
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
export const viaShell = (cmd: string, input: string, output: string): [string, string[]] => [
  "sh",
  ["-c", `exec ${cmd} -- "$1" > "$2"`, "sh", input, output],
];
export const TOOLS: readonly Tool[] = [
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

export interface BaselineResult {
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

export async function measureTool(
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

export interface ZstdBenchResult {
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
export async function zstdBench(input: string, available: boolean, quick: boolean) {
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
