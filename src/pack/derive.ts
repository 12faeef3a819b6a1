/**
 * Derives lossy variants from a container into a new container (docs/FORMAT.md, "Variants"): the
 * original header and every kept chunk are copied as stored, each selected tensor is decoded once
 * and encoded as each variant, and the index gains the new encodings and the `variants` list.
 * @module
 */
import type { Mode, ZstdCompress } from "../../codec/chunk_encode.ts";
import { chooseByRmse, keepExactReason } from "../../codec/variants/auto.ts";
import { type EncodedVariant, encodeVariant } from "../../codec/variants/encode.ts";
import type {
  ExactEncoding,
  LossyEncoding,
  VariantEncoding,
} from "../../codec/variants/encoding.ts";
import { isLossy } from "../../codec/variants/encoding.ts";
import { isFloatDtype } from "../../codec/variants/float.ts";
import { parseSpec, specName, type VariantSpec } from "../../codec/variants/spec.ts";
import { xxh32 } from "../../codec/xxh32.ts";
import { nativeZstdCompress } from "../codec_native/zstd.ts";
import { ContainerError } from "../container/errors.ts";
import { type AtomicFile, createAtomicFile } from "../io/atomic_file.ts";
import { alignUp, FORMAT_VERSION, HEAD_BYTES } from "../container/format.ts";
import type { ChunkRecord, Index, TensorEntry } from "../container/index_schema.ts";
import { readRegion } from "../container/read.ts";
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
  /** Called after each tensor. */
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

/** Derives from an open container; the output file appears only once complete. */
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
  const deriveMs = new Map<string, number>(names.map((n) => [n, 0]));
  const out = await createAtomicFile(output);
  try {
    let pos = alignUp(HEAD_BYTES, src.alignment);
    const h = src.source.header;
    const headerOffset = pos;
    await out.writeAt(pos, await c.source.readAt(h.offset, h.storedLength));
    pos += h.storedLength;
    const tensors: TensorEntry[] = [];
    const allNames = [...existing.map((v) => v.name), ...names];
    for (let ti = 0; ti < src.tensors.length; ti++) {
      const t = src.tensors[ti];
      const outcomes = await deriveTensor(c, t, options, names, encodeOptions, deriveMs);
      const lossyNames = new Set<string>();
      for (const e of t.encodings) if (isLossy(e)) lossyNames.add((e as LossyEncoding).name);
      outcomes.forEach((o, k) => o && "encoded" in o && lossyNames.add(names[k]));
      const dropLossless = options.variantOnly === true && allNames.length > 0 &&
        allNames.every((n) => lossyNames.has(n));
      const encodings: TensorEntry["encodings"] = [];
      for (const e of t.encodings) {
        if (e.kind === "lossless") {
          if (dropLossless) continue;
          const l = e as { chunks: ChunkRecord[] };
          const copied = await copyChunks(c, l.chunks, out, pos, src.alignment);
          pos = copied.pos;
          encodings.push({ ...e, chunks: copied.records } as TensorEntry["encodings"][number]);
        } else if (isLossy(e)) {
          const copied = await copyChunks(c, e.chunks, out, pos, src.alignment);
          pos = copied.pos;
          encodings.push(
            { ...e, chunks: copied.records } as unknown as TensorEntry["encodings"][number],
          );
        } else if (e.kind === "exact") {
          if (!dropLossless) encodings.push(e);
        }
        // Kinds this version does not define cannot be copied: their chunks are unknown.
      }
      for (const o of outcomes) {
        if (!o) continue;
        if ("exact" in o) {
          if (!dropLossless) encodings.push(o.exact as unknown as TensorEntry["encodings"][number]);
          continue;
        }
        const records: ChunkRecord[] = [];
        for (const chunk of o.encoded.chunks) {
          pos = alignUp(pos, src.alignment);
          await out.writeAt(pos, chunk.stored);
          records.push([
            pos,
            chunk.stored.length,
            chunk.rawLength,
            chunk.storedXxh32,
            chunk.rawXxh32,
          ]);
          pos += chunk.stored.length;
        }
        const enc: VariantEncoding = { ...o.encoded.encoding, chunks: records };
        encodings.push(enc as unknown as TensorEntry["encodings"][number]);
      }
      tensors.push({ ...t, encodings });
      options.onTensor?.(ti + 1, src.tensors.length, t.name);
    }
    const record = options.recordTimes ?? true;
    const variants: VariantListEntry[] = [
      ...existing,
      ...names.map((name) => ({ name, deriveMs: record ? Math.round(deriveMs.get(name)!) : 0 })),
    ];
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

// Encodes tensor `t` as every spec; reads it only if some spec applies.
async function deriveTensor(
  c: Container,
  t: TensorEntry,
  options: DeriveOptions,
  names: string[],
  encodeOptions: { mode: Mode; zstdCompress: ZstdCompress; chunkBytes: number },
  deriveMs: Map<string, number>,
): Promise<Outcome[]> {
  const selected = !options.only || options.only.test(t.name);
  if (!selected || !t.shape.every((d) => d > 0) || !isFloatDtype(t.dtype)) {
    return names.map(() => null);
  }
  let bytes: Uint8Array | null = null;
  const input = async () => {
    if (!bytes) bytes = await readRegion(c, t);
    return { dtype: t.dtype, shape: t.shape, bytes };
  };
  const outcomes: Outcome[] = [];
  for (let k = 0; k < options.specs.length; k++) {
    const spec = options.specs[k], name = names[k];
    const started = performance.now();
    let outcome: Outcome = null;
    if (spec.kind === "auto") {
      const x = await input();
      if (spec.metric === "rmse") {
        const choice = chooseByRmse(t.name, x, spec.budget, name, encodeOptions);
        outcome = choice.encoded
          ? { encoded: choice.encoded }
          : { exact: { kind: "exact", name, reason: choice.reason } };
      } else {
        const planned = options.klChoices!.get(name)!.get(t.name) ?? null;
        const keep = keepExactReason(t.name, x);
        if (planned === null || keep) {
          outcome = {
            exact: { kind: "exact", name, reason: keep ?? "the KL plan keeps it exact" },
          };
        } else {
          const v = encodeVariant(x, parseSpec(planned) as never, name, encodeOptions);
          const reason = `KL plan under ${spec.budget} nats: ${planned}`;
          outcome = { encoded: { ...v, encoding: { ...v.encoding, reason } } };
        }
      }
    } else if (variantApplies(t)) {
      const v = encodeVariant(await input(), spec, name, encodeOptions);
      outcome = { encoded: { ...v, encoding: { ...v.encoding, reason: "requested" } } };
    }
    deriveMs.set(name, deriveMs.get(name)! + performance.now() - started);
    outcomes.push(outcome);
  }
  return outcomes;
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
