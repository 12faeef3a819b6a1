/**
 * Sparse variant (docs/FORMAT.md, "Variants: sparse"): elements of magnitude below a threshold
 * become 0, the rest keep their exact bytes. Each tile is stored as COO (gaps between kept
 * positions as u32, then the kept elements) or, where that is smaller for the whole tensor,
 * densely. Browser-safe.
 * @module
 */
import type { EncodeOptions } from "../chunk_encode.ts";
import { type Dtype, planeLayout } from "../dtype.ts";
import { chooseTiles, gridSize, type TileGeometry, tileRect } from "../tiles.ts";
import { type EncodedVariantChunk, encodeSections } from "./sections_encode.ts";
import type { SparseSpec } from "./spec.ts";

/** The chosen sparse representation of a view. */
export interface Sparsified {
  readonly threshold: number;
  readonly layout: "coo" | "dense";
  readonly tile: [number, number];
  readonly chunks: EncodedVariantChunk[];
  /** Raw sections of each chunk. */
  readonly parts: Uint8Array[][];
}

/** The threshold that keeps the `keep` share of largest magnitudes (ties kept). */
export function keepThreshold(values: Float32Array, keep: number): number {
  const mags = Float32Array.from(values, Math.abs).filter((v) => !Number.isNaN(v)).sort();
  const kept = Math.round(keep * mags.length);
  if (kept <= 0) return Infinity;
  return mags[mags.length - kept];
}

/** Thresholds `values` (a `rows × cols` view of `bytes`, elements of `dtype`) per `spec`. */
export function sparsify(
  bytes: Uint8Array,
  values: Float32Array,
  rows: number,
  cols: number,
  dtype: Dtype,
  spec: SparseSpec,
  chunkBytes: number,
  options: EncodeOptions,
): Sparsified {
  const layout = planeLayout(dtype), w = layout.width;
  const threshold = spec.threshold ?? keepThreshold(values, spec.keep!);
  const gt = chooseTiles([rows, cols], w, chunkBytes);
  const g: TileGeometry = { ...gt, width: w };
  const [gr, gc] = gridSize(g);
  const coo: Uint8Array[][] = [], dense: Uint8Array[][] = [];
  for (let i = 0; i < gr * gc; i++) {
    const t = tileRect(g, i), n = (t.r1 - t.r0) * (t.c1 - t.c0);
    const tile = new Uint8Array(n * w);
    const gaps: number[] = [], kept: number[] = [];
    let prev = -1;
    for (let r = t.r0, p = 0; r < t.r1; r++) {
      for (let c = t.c0; c < t.c1; c++, p++) {
        const x = values[r * cols + c];
        // NaN is kept: it is not below any threshold.
        if (Math.abs(x) < threshold) continue;
        const at = (r * cols + c) * w;
        tile.set(bytes.subarray(at, at + w), p * w);
        gaps.push(p - prev - 1);
        kept.push(at);
        prev = p;
      }
    }
    const gapBytes = new Uint8Array(new Uint32Array(gaps).buffer);
    const valueBytes = new Uint8Array(kept.length * w);
    kept.forEach((at, k) => valueBytes.set(bytes.subarray(at, at + w), k * w));
    coo.push([gapBytes, valueBytes]);
    dense.push([tile]);
  }
  const u32 = planeLayout("U32");
  const cooChunks = coo.map(([gaps, vals]) =>
    encodeSections([{ raw: gaps, layout: u32 }, { raw: vals, layout }], options)
  );
  const denseChunks = dense.map(([tile]) => encodeSections([{ raw: tile, layout }], options));
  const size = (cs: EncodedVariantChunk[]) => cs.reduce((s, c) => s + c.stored.length, 0);
  const useCoo = size(cooChunks) <= size(denseChunks);
  return {
    threshold,
    layout: useCoo ? "coo" : "dense",
    tile: [g.tileRows, g.tileCols],
    chunks: useCoo ? cooChunks : denseChunks,
    parts: useCoo ? coo : dense,
  };
}
