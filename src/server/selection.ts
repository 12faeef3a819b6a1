/**
 * Tile selections: `?rows=a:b&cols=c:d` over a tensor's matrix view, or `?slice=a:b,c:d,…` with
 * one slice per dimension, turned into the row runs of the matrix view that hold the sub-tensor.
 * Slices use Python syntax (`a:b`, `a:`, `:b`, `:`, a lone index `a`, negative bounds from the
 * end); a lone index keeps its dimension with length 1. Missing trailing slices select everything.
 *
 * Every parameter matches its grammar exactly ({@link SLICE_GRAMMAR}; `slice` is such slices
 * joined by `,`, or empty for everything) and appears at most once; anything else is a
 * `bad_slice` error quoting the grammar, never a guess (`rows=0-5` is not row 0).
 * @module
 */
import { matrixShape, type Rect } from "../../codec/tiles.ts";
import { dtypeWidth } from "../../codec/dtype.ts";
import type { TensorEntry } from "../container/index_schema.ts";
import { parseSlice, SLICE_GRAMMAR } from "../container/slice.ts";
import { ContainerError } from "../container/errors.ts";

/** A resolved selection. */
export interface Selection {
  /** Rectangles of the matrix view, in output order. */
  readonly rects: readonly Rect[];
  /** Shape of the selected sub-tensor. */
  readonly shape: readonly number[];
  /** Byte length of the result. */
  readonly size: number;
  /** Canonical text of the selection, for entity tags. */
  readonly canonical: string;
}

/** Most row runs one N-D selection may have. */
export const MAX_RUNS = 1 << 20;

/**
 * Resolves the query of a tile request against `t`; null when the query selects no tile (the
 * whole tensor is wanted). Throws a `bad_slice` ContainerError on malformed or out-of-range input.
 *
 * @example
 * ```ts
 * selectTile(t, new URLSearchParams("rows=0:4&cols=0:8"))?.shape; // [4, 8]
 * ```
 */
export function selectTile(t: TensorEntry, query: URLSearchParams): Selection | null {
  const rows = once(query, "rows"), cols = once(query, "cols"), slice = once(query, "slice");
  if (slice !== null && (rows !== null || cols !== null)) {
    throw new ContainerError("bad_slice", "use either rows/cols or slice, not both");
  }
  const width = dtypeWidth(t.dtype);
  if (slice !== null) return selectSlice(t, slice, width);
  if (rows === null && cols === null) return null;
  // The matrix view, not the lossless tiles: a variant-only tensor has none.
  const [nRows, nCols] = matrixShape(t.shape);
  const [r0, r1] = rows === null ? [0, nRows] : parseSlice(rows, nRows, "rows");
  const [c0, c1] = cols === null ? [0, nCols] : parseSlice(cols, nCols, "cols");
  const empty = r0 === r1 || c0 === c1;
  return {
    rects: empty ? [] : [{ r0, r1, c0, c1 }],
    shape: [r1 - r0, c1 - c0],
    size: (r1 - r0) * (c1 - c0) * width,
    canonical: `rows=${r0}:${r1}&cols=${c0}:${c1}`,
  };
}

/** The one value of parameter `name`, or null; a repeated parameter is ambiguous. */
function once(query: URLSearchParams, name: string): string | null {
  const all = query.getAll(name);
  if (all.length > 1) {
    throw new ContainerError(
      "bad_slice",
      `${name} appears ${all.length} times; give it once, matching ${SLICE_GRAMMAR}`,
    );
  }
  return all.length === 0 ? null : all[0];
}

function selectSlice(t: TensorEntry, text: string, width: number): Selection {
  const shape = t.shape;
  const parts = text === "" ? [] : text.split(",");
  if (parts.length > shape.length) {
    throw new ContainerError(
      "bad_slice",
      `slice has ${parts.length} parts, the tensor has ${shape.length} dimensions`,
    );
  }
  const ranges = shape.map((d, k) =>
    k < parts.length ? parseSlice(parts[k], d, `slice dimension ${k}`) : [0, d] as [number, number]
  );
  const outShape = ranges.map(([s, e]) => e - s);
  const size = outShape.reduce((a, b) => a * b, 1) * width;
  const canonical = `slice=${ranges.map(([s, e]) => `${s}:${e}`).join(",")}`;
  if (size === 0) return { rects: [], shape: outShape, size: 0, canonical };
  if (shape.length <= 1) {
    const [c0, c1] = shape.length === 0 ? [0, 1] : ranges[0];
    return { rects: [{ r0: 0, r1: 1, c0, c1 }], shape: outShape, size, canonical };
  }
  const n = shape.length;
  const [c0, c1] = ranges[n - 1];
  // Row index of a multi-index over the leading dimensions: sum of idx[k] * stride[k].
  const stride = new Array<number>(n - 1).fill(1);
  for (let k = n - 3; k >= 0; k--) stride[k] = stride[k + 1] * shape[k + 1];
  let runs = 1;
  for (let k = 0; k < n - 2; k++) runs *= ranges[k][1] - ranges[k][0];
  if (runs > MAX_RUNS) {
    throw new ContainerError(
      "bad_slice",
      `slice "${text}" is ${runs} separate row runs; at most ${MAX_RUNS} are served`,
    );
  }
  const rects: Rect[] = [];
  const idx = ranges.slice(0, n - 2).map(([s]) => s);
  const [is, ie] = ranges[n - 2];
  for (;;) {
    let base = 0;
    for (let k = 0; k < n - 2; k++) base += idx[k] * stride[k];
    const r0 = base + is, r1 = base + ie;
    const last = rects[rects.length - 1];
    // Consecutive runs that touch form one rectangle (a slice that is whole in inner dimensions).
    if (last && last.r1 === r0) rects[rects.length - 1] = { ...last, r1 };
    else rects.push({ r0, r1, c0, c1 });
    let k = n - 3;
    for (; k >= 0; k--) {
      if (++idx[k] < ranges[k][1]) break;
      idx[k] = ranges[k][0];
    }
    if (k < 0) break;
  }
  return { rects, shape: outShape, size, canonical };
}
