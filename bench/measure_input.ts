/**
 * Everything the bench measures of one input: its bounds, both modes' pack and decode (the fast
 * decode in turn with zstd -d of the file's zstd -3 output), the system compressors, zstd's own
 * benchmark, and the flags.
 * @module
 */
import { type Bound, entropyBound } from "./bounds.ts";
import { MB, MODES } from "./config.ts";
import { type FileResult, flagsOf } from "./flags.ts";
import type { Input } from "./inputs/list.ts";
import { type DecodeResult, measureDecode, measurePack } from "./measure.ts";
import type { Options } from "./options.ts";
import { type BaselineResult, measureTool, PEERS, type Tool, TOOLS, zstdBench } from "./peers.ts";
import { errText, log, run, timeoutFor } from "./processes.ts";

/** What measuring needs beyond the input: options, a scratch directory, the tools found. */
export interface MeasureContext {
  readonly opts: Options;
  readonly tmp: string;
  /** Whether each program is on the PATH. */
  readonly found: ReadonlyMap<string, boolean>;
}

/** Measures `input`. */
export async function measureInput(input: Input, ctx: MeasureContext): Promise<FileResult> {
  const { opts, tmp, found } = ctx, { name, path } = input;
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
    const pack = await measurePack(path, tsr, mode, size, timeoutFor(size, 100e3));
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
        timeoutFor(size * (runs + 3), 200e3) + opts.warmupMs +
          (mode === "fast" && pairedZst ? timeoutFor(size * runs, 200e3) : 0),
        mode === "fast" ? pairedZst : null,
      );
    }
    await Deno.remove(tsr).catch(() => {});
    modes[mode] = { pack, decode };
  }
  if (pairedZst) await Deno.remove(pairedZst).catch(() => {});
  const usable = (t: Tool) => t.needs.every((b) => found.get(b));
  const baselines: BaselineResult[] = [];
  for (const tool of TOOLS) {
    log(`${name}: ${tool.name}`);
    baselines.push(await measureTool(tool, usable(tool), path, size, tmp, opts));
  }
  log(`${name}: zstd -b3 -T1`);
  const zb = await zstdBench(path, found.get("zstd") ?? false, opts.quick);
  const f: FileResult = {
    name,
    kind: input.kind,
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
  return f;
}
