/**
 * Derives lossy variants from a container into a new container (docs/FORMAT.md, "Variants"): the
 * original header and every kept chunk are copied as stored, each selected tensor is decoded once
 * and encoded as each variant, and the index gains the new encodings and the `variants` list.
 * @module
 */
import type { Mode, ZstdCompress } from "../../codec/chunk_encode.ts";
import { chooseByRmse, keepExactReason } from "../../codec/variants/auto.ts";
import { type EncodedVariant, encodeVariant } from "../../codec/variants/encode.ts";
import type { ExactEncoding, VariantEncoding } from "../../codec/variants/encoding.ts";
import { isLossy } from "../../codec/variants/encoding.ts";
import { isFloatDtype } from "../../codec/variants/float.ts";
import { parseSpec, specName, type VariantSpec } from "../../codec/variants/spec.ts";
import { xxh32 } from "../../codec/xxh32.ts";
import { nativeZstdCompress } from "../codec_native/zstd.ts";
import { ContainerError } from "../container/errors.ts";
import { type AtomicFile, createAtomicFile } from "../io/atomic_file.ts";
import { alignUp, FORMAT_VERSION, HEAD_BYTES } from "../container/format.ts";
import type { ChunkRecord, Index, TensorEntry } from "../container/index_schema.ts";
import { lengthPrefix, readOriginalHeader, readRegion } from "../container/read.ts";
import { type Backends, sha256Hex } from "../container/backends.ts";
import { decodeBlock, type DecodeScratch, decodeScratch } from "../container/decode_block.ts";
import { planBlocks, variantTensorPiece } from "../container/plan.ts";
import type { Container } from "../container/open.ts";
import { openContainerFile } from "../io/container_file.ts";
import type { VariantListEntry } from "../container/variant_index.ts";
import { writeIndexAndHead } from "./write.ts";

/** Options for {@link deriveFile}. */
export interface DeriveOptions {
  /** The variants to add. */
  readonly specs: readonly VariantSpec[];
  /** Only tensors whose name matches get the new variants. */
  readonly only?: RegExp;
  /** Drop the lossless encoding of every tensor that each variant in the output replaces. */
  readonly variantOnly?: boolean;
  /** Payload bytes per variant chunk, about; the container's `chunkBytes` by default. */
  readonly chunkBytes?: number;
  /** How hard the plane coders work on variant payloads; the container's mode by default. */
  readonly mode?: Mode;
  /** Zstandard encoder; native by default. */
  readonly zstdCompress?: ZstdCompress;
  /**
   * For `auto:kl=B` specs, the choice per tensor (a spec, or null for exact) keyed by variant
   * name, from a planner that can judge the model ({@link planByKl} with the bench's judge).
   */
  readonly klChoices?: ReadonlyMap<string, ReadonlyMap<string, string | null>>;
  /** Record derive times in the index (default); off for reproducible known-answer files. */
  readonly recordTimes?: boolean;
  /** Called after each tensor of each new variant's pass (`total`: tensors × new variants). */
  readonly onTensor?: (done: number, total: number, name: string) => void;
}

/** What a tensor gets from one spec: a lossy variant, an `exact` record, or nothing. */
type Outcome = { encoded: EncodedVariant } | { exact: ExactEncoding } | null;

/** Whether explicit variants apply to `t`: a float matrix (or higher) with elements. */
export function variantApplies(t: TensorEntry): boolean {
  return isFloatDtype(t.dtype) && t.shape.length >= 2 && t.shape.every((d) => d > 0);
}

/** Derives the variants of `options.specs` from container `input` into `output`. */
export async function deriveFile(
  input: string,
  output: string,
  options: DeriveOptions,
): Promise<Index> {
  const c = await openContainerFile(input);
  try {
    return await deriveContainer(c, output, options);
  } finally {
    c.source.close();
  }
}

/**
 * Derives from an open container; the output file appears only once complete. Its chunks are
 * grouped by representation: each variant's chunks (the input's variants, then the new ones) in
 * tensor order, then the lossless chunks, so that a reader of one variant reads one region of the
 * file (docs/FORMAT.md, "Variants"). Each new variant is made in a pass over the tensors that
 * reads each tensor again (decoding is cheap next to encoding) and hashes the variant's file.
 */
export async function deriveContainer(
  c: Container,
  output: string,
  options: DeriveOptions,
): Promise<Index> {
  const src = c.index;
  const names = options.specs.map(specName);
  const existing = src.variants ?? [];
  for (const n of names) {
    if (existing.some((v) => v.name === n)) {
      throw new RangeError(`the container already holds variant "${n}"`);
    }
  }
  for (const s of options.specs) {
    if (s.kind === "auto" && s.metric === "kl" && !options.klChoices?.has(specName(s))) {
      throw new RangeError(
        `${specName(s)} needs a model to judge KL; use auto:rmse=B, or the bench's planner`,
      );
    }
  }
  const mode = options.mode ?? src.mode;
  const zstdCompress = options.zstdCompress ?? nativeZstdCompress;
  const encodeOptions = { mode, zstdCompress, chunkBytes: options.chunkBytes ?? src.chunkBytes };
  const out = await createAtomicFile(output);
  try {
    let pos = alignUp(HEAD_BYTES, src.alignment);
    const h = src.source.header;
    const headerOffset = pos;
    await out.writeAt(pos, await c.source.readAt(h.offset, h.storedLength));
    pos += h.storedLength;
    // Each tensor's encodings of the output, by variant name; "" is the lossless one.
    const encodings = src.tensors.map(() => new Map<string, TensorEntry["encodings"][number]>());
    const write = async (chunks: readonly Uint8Array[]) => {
      const records: ChunkRecord[] = [];
      for (const stored of chunks) {
        pos = alignUp(pos, src.alignment);
        await out.writeAt(pos, stored);
        records.push([pos, stored.length, 0, 0, 0]);
        pos += stored.length;
      }
      return records;
    };
    // The input's variants, one region each, copied as stored.
    for (const v of existing) {
      for (let ti = 0; ti < src.tensors.length; ti++) {
        for (const e of src.tensors[ti].encodings) {
          if ((e as { name?: string }).name !== v.name) continue;
          if (isLossy(e)) {
            const copied = await copyChunks(c, e.chunks, out, pos, src.alignment);
            pos = copied.pos;
            encodings[ti].set(v.name, { ...e, chunks: copied.records } as unknown as Encoding);
          } else if (e.kind === "exact") encodings[ti].set(v.name, e);
        }
      }
    }
    // The new variants, one pass and one region each.
    const variants: VariantListEntry[] = [...existing];
    const header = names.length > 0 ? await readOriginalHeader(c) : new Uint8Array(0);
    const scratch = decodeScratch();
    for (let k = 0; k < options.specs.length; k++) {
      const spec = options.specs[k], name = names[k];
      const file = c.backends.sha256();
      file.update(lengthPrefix(header.length));
      file.update(header);
      let ms = 0, decodeMs = 0;
      for (let ti = 0; ti < src.tensors.length; ti++) {
        const t = src.tensors[ti];
        const started = performance.now();
        const o = await deriveTensor(c, t, spec, name, options, encodeOptions);
        ms += performance.now() - started;
        if (o && "encoded" in o) {
          const records = await write(o.encoded.chunks.map((ch) => ch.stored));
          o.encoded.chunks.forEach((ch, i) => {
            records[i] = [records[i][0], records[i][1], ch.rawLength, ch.storedXxh32, ch.rawXxh32];
          });
          const sha256 = sha256Hex(c.backends, o.encoded.dequantised);
          const enc: VariantEncoding = { ...o.encoded.encoding, chunks: records, sha256 };
          decodeMs += timeReader(t, o.encoded, sha256, c.backends, scratch);
          encodings[ti].set(name, enc as unknown as Encoding);
          file.update(o.encoded.dequantised);
        } else {
          if (o) encodings[ti].set(name, o.exact as unknown as Encoding);
          file.update(await readRegion(c, t));
        }
        options.onTensor?.(
          k * src.tensors.length + ti + 1,
          names.length * src.tensors.length,
          t.name,
        );
      }
      const record = options.recordTimes ?? true;
      variants.push({
        name,
        deriveMs: record ? Math.round(ms) : 0,
        decodeMs: record ? Math.round(decodeMs * 1000) / 1000 : 0,
        sha256: file.hex(),
      });
    }
    // The lossless region, without the tensors a variant-only container no longer keeps.
    const allNames = variants.map((v) => v.name);
    for (let ti = 0; ti < src.tensors.length; ti++) {
      const t = src.tensors[ti], mine = encodings[ti];
      const dropLossless = options.variantOnly === true && allNames.length > 0 &&
        allNames.every((n) => isLossy(mine.get(n) ?? { kind: "" }));
      for (const e of t.encodings) {
        if (e.kind !== "lossless" || dropLossless) continue;
        const l = e as { chunks: ChunkRecord[] };
        const copied = await copyChunks(c, l.chunks, out, pos, src.alignment);
        pos = copied.pos;
        mine.set("", { ...e, chunks: copied.records } as Encoding);
      }
    }
    const tensors: TensorEntry[] = src.tensors.map((t, ti) => {
      const mine = encodings[ti], list: Encoding[] = [];
      const lossless = mine.get("");
      if (lossless) list.push(lossless);
      for (const n of allNames) {
        const e = mine.get(n);
        // Kinds this version does not define are not copied: their chunks are unknown.
        if (e) list.push(e);
      }
      return { ...t, encodings: list };
    });
    const index: Index = {
      format: "tessera",
      version: FORMAT_VERSION,
      alignment: src.alignment,
      chunkBytes: src.chunkBytes,
      mode: src.mode,
      source: { ...src.source, header: { ...h, offset: headerOffset } },
      metadata: src.metadata,
      layers: src.layers,
      tensors,
      ...(variants.length > 0 ? { variants } : {}),
    };
    await writeIndexAndHead(out, pos, index, zstdCompress, mode);
    await out.commit();
    return index;
  } catch (e) {
    await out.abort();
    throw e;
  }
}

type Encoding = TensorEntry["encodings"][number];

/**
 * Milliseconds the reader takes to decode `v`, a variant of `t` just encoded, from its stored
 * chunks: the planner's blocks run by decodeBlock on this thread with `backends`, as a server or
 * a client runs them (the chunks are in memory, so no I/O is timed). The output must hash to
 * `sha256`, the digest of what the encoder dequantised: the writer checks its own chunks.
 */
function timeReader(
  t: TensorEntry,
  v: EncodedVariant,
  sha256: string,
  backends: Backends,
  scratch: DecodeScratch,
): number {
  let at = 0;
  const records: ChunkRecord[] = v.chunks.map((ch) => {
    const r: ChunkRecord = [at, ch.stored.length, ch.rawLength, ch.storedXxh32, ch.rawXxh32];
    at += ch.stored.length;
    return r;
  });
  const stored = new Uint8Array(at);
  v.chunks.forEach((ch, i) => stored.set(ch.stored, records[i][0]));
  const e = { ...v.encoding, chunks: records };
  const out = new Uint8Array(v.dequantised.length);
  const started = performance.now();
  let pos = 0;
  for (const block of planBlocks([variantTensorPiece(t, e)])) {
    const buffer = new Uint8Array(block.bufferBytes);
    decodeBlock(block, [{ start: 0, bytes: stored }], buffer, backends, scratch);
    out.set(buffer.subarray(0, block.length), pos);
    pos += block.length;
  }
  const ms = performance.now() - started;
  if (pos !== out.length || sha256Hex(backends, out) !== sha256) {
    throw new Error(`variant "${e.name}" of "${t.name}" does not decode to what was encoded`);
  }
  return ms;
}

// Encodes tensor `t` as `spec`; reads it only if the spec applies.
async function deriveTensor(
  c: Container,
  t: TensorEntry,
  spec: VariantSpec,
  name: string,
  options: DeriveOptions,
  encodeOptions: { mode: Mode; zstdCompress: ZstdCompress; chunkBytes: number },
): Promise<Outcome> {
  const selected = !options.only || options.only.test(t.name);
  if (!selected || !t.shape.every((d) => d > 0) || !isFloatDtype(t.dtype)) return null;
  const input = async () => ({ dtype: t.dtype, shape: t.shape, bytes: await readRegion(c, t) });
  if (spec.kind === "auto") {
    const x = await input();
    if (spec.metric === "rmse") {
      const choice = chooseByRmse(t.name, x, spec.budget, name, encodeOptions);
      return choice.encoded
        ? { encoded: choice.encoded }
        : { exact: { kind: "exact", name, reason: choice.reason } };
    }
    const planned = options.klChoices!.get(name)!.get(t.name) ?? null;
    const keep = keepExactReason(t.name, x);
    if (planned === null || keep) {
      return { exact: { kind: "exact", name, reason: keep ?? "the KL plan keeps it exact" } };
    }
    const v = encodeVariant(x, parseSpec(planned) as never, name, encodeOptions);
    const reason = `KL plan under ${spec.budget} nats: ${planned}`;
    return { encoded: { ...v, encoding: { ...v.encoding, reason } } };
  }
  if (!variantApplies(t)) return null;
  const v = encodeVariant(await input(), spec, name, encodeOptions);
  return { encoded: { ...v, encoding: { ...v.encoding, reason: "requested" } } };
}

// Copies stored chunks as they are to aligned offsets from `pos`; returns their new records.
async function copyChunks(
  c: Container,
  chunks: readonly ChunkRecord[],
  out: AtomicFile,
  pos: number,
  alignment: number,
): Promise<{ records: ChunkRecord[]; pos: number }> {
  const records: ChunkRecord[] = [];
  for (const [offset, stored, raw, storedXxh32, rawXxh32] of chunks) {
    pos = alignUp(pos, alignment);
    const bytes = await c.source.readAt(offset, stored);
    // Copied without decoding, so checked here: a damaged chunk must not spread.
    if (xxh32(bytes) !== storedXxh32) {
      throw new ContainerError("chunk_corrupt", `chunk at ${offset} does not match its XXH32`);
    }
    await out.writeAt(pos, bytes);
    records.push([pos, stored, raw, storedXxh32, rawXxh32]);
    pos += stored;
  }
  return { records, pos };
}
