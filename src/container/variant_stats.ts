/**
 * The compression manager's statistics of a variant over a model (one container, or every shard
 * of a revision): counts by kind, bytes, the average ratio, memory saved, and derive and decode
 * time per tensor, all from the indexes. The manifest, `/metrics` and `inspect` show these.
 * Browser-safe.
 * @module
 */
import type { Index, TensorEntry } from "./index_schema.ts";
import { lossyEncodingOf } from "./variant_index.ts";

/** One variant's figures over a model. */
export interface VariantStats {
  /** The variant's name. */
  readonly name: string;
  /** Tensors of the model. */
  readonly tensors: number;
  /** Tensors the variant stores lossy. */
  readonly lossyTensors: number;
  /** Tensors by how the variant stores them: a lossy kind, or `exact` (its lossless bytes). */
  readonly kinds: Readonly<Record<string, number>>;
  /** Bytes of the original tensors (what the variant's file holds besides its header). */
  readonly rawBytes: number;
  /** Stored bytes a reader of the variant fetches: its chunks, and the exact tensors' chunks. */
  readonly storedBytes: number;
  /** Stored bytes of the lossless encodings of the same tensors; null in a variant-only model. */
  readonly losslessBytes: number | null;
  /** `rawBytes / storedBytes`: the whole variant's ratio. */
  readonly ratio: number;
  /** Mean over lossy tensors of raw bytes / stored bytes; 1 without lossy tensors. */
  readonly averageRatio: number;
  /** `rawBytes - storedBytes`: the memory saved against the uncompressed tensors. */
  readonly savedBytes: number;
  /** Milliseconds spent deriving the variant (every shard). */
  readonly deriveMs: number;
  /** `deriveMs` per tensor of the model (the derive pass visits every tensor). */
  readonly deriveMsPerTensor: number;
  /** Milliseconds the writer's reader took to decode the lossy tensors once (one thread). */
  readonly decodeMs: number;
  /** `decodeMs` per lossy tensor. */
  readonly decodeMsPerTensor: number;
}

/** The names of the variants any of `indexes` holds, in first-listed order. */
export function variantNames(indexes: readonly Index[]): string[] {
  const names: string[] = [];
  for (const index of indexes) {
    for (const v of index.variants ?? []) if (!names.includes(v.name)) names.push(v.name);
  }
  return names;
}

const storedOf = (chunks: readonly (readonly number[])[]) => chunks.reduce((n, ch) => n + ch[1], 0);

/** Stored bytes of `t`'s lossless encoding, or null when it has none. */
export function losslessStored(t: TensorEntry): number | null {
  for (const e of t.encodings) {
    if (e.kind === "lossless") return storedOf((e as { chunks: number[][] }).chunks);
  }
  return null;
}

/**
 * Variant `name`'s statistics over the model whose files have `indexes`; a file that does not
 * hold the variant counts as exact (it is served lossless under the variant's revision).
 *
 * @example
 * ```ts ignore
 * const s = variantStats([c.index], "int8");
 * console.log(s.averageRatio, s.savedBytes, s.kinds); // 3.9, 1203456, { int8: 14, exact: 13 }
 * ```
 */
export function variantStats(indexes: readonly Index[], name: string): VariantStats {
  const kinds: Record<string, number> = {};
  let tensors = 0, lossyTensors = 0, rawBytes = 0, storedBytes = 0, ratioSum = 0;
  let losslessBytes: number | null = 0, deriveMs = 0, decodeMs = 0;
  for (const index of indexes) {
    const v = index.variants?.find((x) => x.name === name);
    if (v) deriveMs += v.deriveMs, decodeMs += v.decodeMs;
    for (const t of index.tensors) {
      tensors++;
      const raw = t.offsets[1] - t.offsets[0];
      rawBytes += raw;
      const lossless = losslessStored(t);
      losslessBytes = lossless === null || losslessBytes === null ? null : losslessBytes + lossless;
      const e = v ? lossyEncodingOf(t, name) : null;
      if (e) {
        const stored = storedOf(e.chunks);
        lossyTensors++;
        storedBytes += stored;
        ratioSum += stored > 0 ? raw / stored : 1;
        kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
      } else {
        storedBytes += lossless ?? 0;
        kinds.exact = (kinds.exact ?? 0) + 1;
      }
    }
  }
  return {
    name,
    tensors,
    lossyTensors,
    kinds,
    rawBytes,
    storedBytes,
    losslessBytes,
    ratio: storedBytes > 0 ? rawBytes / storedBytes : 1,
    averageRatio: lossyTensors > 0 ? ratioSum / lossyTensors : 1,
    savedBytes: rawBytes - storedBytes,
    deriveMs,
    deriveMsPerTensor: tensors > 0 ? deriveMs / tensors : 0,
    decodeMs,
    decodeMsPerTensor: lossyTensors > 0 ? decodeMs / lossyTensors : 0,
  };
}
