/**
 * The synthetic checkpoint over 2 GB that the benchmarks build to show that memory does not grow
 * with the file (`bench/codec_bench.ts`, `bench/transfer/`): a Llama-style tensor plan, a writer
 * that fills it with real weights, and the codec bench's pack-and-decode run over it.
 * @module
 */
import { readSafetensorsHeader } from "../src/safetensors/parse.ts";
import { bufferReader } from "../src/io/random_access.ts";
import { MIB } from "./config.ts";
import type { Options } from "./options.ts";
import { type DecodeResult, measureDecode, measurePack, type PackResult } from "./measure.ts";
import { errText, log, run, timeoutFor } from "./processes.ts";

/** What the codec bench measured on the big file (or why it skipped it). */
export interface BigResult {
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

/** Free bytes on the file system holding `dir`, from `df`; null when df cannot tell. */
export async function freeBytes(dir: string): Promise<number | null> {
  const r = await run("df", ["-Pk", dir], 30_000);
  if (!r.ok) return null;
  const cols = r.stdout.trim().split("\n").at(-1)?.split(/\s+/);
  const kb = cols ? Number(cols[3]) : NaN;
  return Number.isFinite(kb) ? kb * 1024 : null;
}

/** Writes every byte (FsFile.write may write fewer). */
export async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
}

/** One tensor of the synthetic checkpoint. */
export interface PlannedTensor {
  /** Tensor name. */
  name: string;
  /** Dimensions. */
  shape: number[];
}

/**
 * The tensors of a Llama-style BF16 checkpoint with TinyLlama-1.1B's geometry (hidden 2048, MLP
 * 5632, vocabulary 32000) and as many blocks as reach `target` bytes: a few hundred large tensors,
 * as in a real checkpoint, so that the index stays small and memory shows what streaming costs.
 */
export function llamaPlan(target: number): PlannedTensor[] {
  const h = 2048, f = 5632, vocab = 32000;
  const block = (l: number): PlannedTensor[] => [
    { name: `model.layers.${l}.input_layernorm.weight`, shape: [h] },
    { name: `model.layers.${l}.self_attn.q_proj.weight`, shape: [h, h] },
    { name: `model.layers.${l}.self_attn.k_proj.weight`, shape: [h / 8, h] },
    { name: `model.layers.${l}.self_attn.v_proj.weight`, shape: [h / 8, h] },
    { name: `model.layers.${l}.self_attn.o_proj.weight`, shape: [h, h] },
    { name: `model.layers.${l}.post_attention_layernorm.weight`, shape: [h] },
    { name: `model.layers.${l}.mlp.gate_proj.weight`, shape: [f, h] },
    { name: `model.layers.${l}.mlp.up_proj.weight`, shape: [f, h] },
    { name: `model.layers.${l}.mlp.down_proj.weight`, shape: [h, f] },
  ];
  const bytes = (ts: PlannedTensor[]) =>
    ts.reduce((s, t) => s + 2 * t.shape.reduce((a, b) => a * b, 1), 0);
  const plan: PlannedTensor[] = [{ name: "model.embed_tokens.weight", shape: [vocab, h] }];
  const tail: PlannedTensor[] = [
    { name: "model.norm.weight", shape: [h] },
    { name: "lm_head.weight", shape: [vocab, h] },
  ];
  for (let l = 0; bytes(plan) + bytes(tail) < target; l++) plan.push(...block(l));
  return [...plan, ...tail];
}

/**
 * Writes the BF16 safetensors file `plan` describes, filling tensors with the real weights of
 * `data` (a BF16 data section) over and over, streaming through a 16 MiB buffer.
 */
export async function writeBigFile(
  data: Uint8Array,
  plan: PlannedTensor[],
  path: string,
): Promise<{ size: number; layers: number; tensors: number; headerBytes: number }> {
  const parts: string[] = [];
  let off = 0;
  for (const t of plan) {
    const len = 2 * t.shape.reduce((a, b) => a * b, 1);
    parts.push(
      `${JSON.stringify(t.name)}:{"dtype":"BF16","shape":${JSON.stringify(t.shape)},` +
        `"data_offsets":[${off},${off + len}]}`,
    );
    off += len;
  }
  let json = `{"__metadata__":{"format":"pt","note":"tessera bench synthetic"},${parts.join(",")}}`;
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const header = new TextEncoder().encode(json);
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
    await writeAll(f, prefix);
    await writeAll(f, header);
    const buf = new Uint8Array(16 * MIB);
    // Whole elements only, so that every tensor starts on an element of the source.
    const usable = data.length & ~1;
    let src = 0, left = off;
    while (left > 0) {
      let fill = 0;
      while (fill < buf.length && left > 0) {
        const n = Math.min(buf.length - fill, usable - src, left);
        buf.set(data.subarray(src, src + n), fill);
        fill += n, left -= n, src += n;
        if (src === usable) src = 0;
      }
      await writeAll(f, buf.subarray(0, fill));
    }
  } finally {
    f.close();
  }
  return {
    size: 8 + header.length + off,
    layers: plan.filter((t) => t.name.endsWith("q_proj.weight")).length,
    tensors: plan.length,
    headerBytes: header.length,
  };
}

/** The real file whose weights fill the big checkpoint. */
export const BIG_SOURCE = "human-fp32.bf16";

/** Builds the big file, packs it and decodes it from disk, next to the same run on its source. */
export async function bigRun(opts: Options, tmpRoot: string): Promise<BigResult> {
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
