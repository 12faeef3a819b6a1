/**
 * The 2.2 GB synthetic file (`bench/big_file.ts`, the same file `deno task bench` builds): built
 * on disk, packed `fast` by the CLI, compressed with `zstd -3`, then unpacked against `zstd -d -T1`
 * as for every file (`measure_unpack.ts`), outputs on tmpfs. Its peak RSS beside the small files'
 * shows whether memory stays bounded as the file grows.
 * @module
 */
import { llamaPlan, writeBigFile } from "../big_file.ts";
import { decodeHeaderLength, parseHeader } from "../../src/safetensors/parse.ts";
import { fileSha256 } from "./file_sha256.ts";
import { cli } from "./inputs.ts";
import { measureUnpack, type UnpackResult } from "./measure_unpack.ts";
import { timed } from "./processes.ts";

/** The source of the big file's weights. */
export const BIG_SOURCE = "human-fp32.bf16";

/** What the big-file run measured, or why it was skipped. */
export interface BigResult {
  /** Why it did not run. */
  readonly skipped?: string;
  /** Why it failed. */
  readonly error?: string;
  /** How it was made. */
  readonly recipe?: string;
  /** Original size. */
  readonly size?: number;
  /** Tensors. */
  readonly tensors?: number;
  /** Build time, ms. */
  readonly buildMs?: number;
  /** `pack --mode fast` wall time (ms) and peak RSS (KiB). */
  readonly pack?: { readonly ms: number; readonly peakRssKiB: number | null };
  /** Container size. */
  readonly containerSize?: number;
  /** zstd -3 size. */
  readonly zstdSize?: number;
  /** unpack against zstd -d. */
  readonly unpack?: UnpackResult;
}

async function freeBytes(dir: string): Promise<number | null> {
  const r = await timed("df", ["-Pk", dir]);
  const kb = Number(r.stdout.trim().split("\n").at(-1)?.split(/\s+/)[3]);
  return r.code === 0 && Number.isFinite(kb) ? kb * 1024 : null;
}

/** Builds, packs and measures the big file; `diskDir` holds its inputs, `outDir` the outputs. */
export async function measureBig(o: {
  repo: string;
  dataDir: string;
  diskDir: string;
  outDir: string;
  bytes: number;
  repeats: number;
  log: (msg: string) => void;
}): Promise<BigResult> {
  const disk = await freeBytes(o.diskDir), tmpfs = await freeBytes(o.outDir);
  if (disk === null || disk < o.bytes * 3) {
    return {
      skipped: `${o.diskDir}: ${((disk ?? 0) / 1e9).toFixed(1)} GB free, 3x the file needed`,
    };
  }
  if (tmpfs === null || tmpfs < o.bytes * 1.2) {
    return { skipped: `${o.outDir}: ${((tmpfs ?? 0) / 1e9).toFixed(1)} GB free, 1.2x needed` };
  }
  const dir = await Deno.makeTempDir({ dir: o.diskDir, prefix: "tessera-big-" });
  try {
    const srcBytes = await Deno.readFile(`${o.dataDir}/${BIG_SOURCE}.safetensors`);
    const n = decodeHeaderLength(srcBytes.subarray(0, 8), srcBytes.length);
    const header = parseHeader(srcBytes.subarray(8, 8 + n), srcBytes.length);
    const plan = llamaPlan(o.bytes);
    const source = `${dir}/big.safetensors`, fast = `${dir}/big.tsr`, zst = `${dir}/big.zst`;
    o.log(`big: writing a ${(o.bytes / 1e9).toFixed(1)} GB safetensors file`);
    const t0 = performance.now();
    const built = await writeBigFile(srcBytes.subarray(header.dataStart), plan, source);
    const buildMs = performance.now() - t0;
    const sha256 = await fileSha256(source);
    o.log(`big: pack --mode fast, zstd -3`);
    const [cmd, args] = cli(o.repo, "pack", source, fast, "--mode", "fast");
    const packed = await timed(cmd, args, { cwd: o.repo, timeoutMs: 1_800_000 });
    if (packed.code !== 0) throw new Error(`pack failed: ${packed.stderr.slice(-400)}`);
    const z = await timed("zstd", ["-3", "-T0", "-q", "-f", source, "-o", zst]);
    if (z.code !== 0) throw new Error(`zstd -3 failed: ${z.stderr}`);
    await Deno.remove(source);
    o.log(`big: unpack against zstd -d, ${o.repeats} runs each`);
    const unpack = await measureUnpack(
      { stem: "big-llama.bf16", size: built.size, sha256, fast, best: null, zstd: zst },
      { repo: o.repo, outDir: o.outDir, repeats: o.repeats, timeoutMs: 1_800_000 },
    );
    return {
      recipe: `bench/big_file.ts: a Llama-style BF16 checkpoint with TinyLlama-1.1B's geometry ` +
        `(${built.tensors} tensors), filled with the real weights of ${BIG_SOURCE}, repeated`,
      size: built.size,
      tensors: built.tensors,
      buildMs,
      pack: { ms: packed.ms, peakRssKiB: packed.peakRssKiB },
      containerSize: (await Deno.stat(fast)).size,
      zstdSize: (await Deno.stat(zst)).size,
      unpack,
    };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
