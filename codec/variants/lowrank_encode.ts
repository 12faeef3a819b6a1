/**
 * Truncated SVD (docs/FORMAT.md, "Variants: lowrank"): U·diag(S)·Vᵀ with the rank chosen by the
 * share of singular-value energy kept or by a target compression ratio. The decomposition is
 * ml-matrix's (Golub–Kahan, in float64): 5.8 s for a 1024 × 1024 matrix on this machine, the
 * largest in the shared files, which is acceptable for a one-off derive. Browser-safe.
 * @module
 */
import { Matrix, SingularValueDecomposition } from "ml-matrix";
import type { LowRankSpec } from "./spec.ts";

/** The factors of a rank-r approximation, in float64. */
export interface LowRankFactors {
  readonly rank: number;
  /** r singular values, descending. */
  readonly s: Float64Array;
  /** rows × r, row-major. */
  readonly u: Float64Array;
  /** cols × r, row-major (row j holds column j of the matrix's right factor). */
  readonly v: Float64Array;
}

/**
 * The rank for `spec`: the smallest keeping `energy` of Σσ², or the largest whose factors
 * (plus 4 bytes of S per rank) fit in 1/ratio of the original bytes; at least 1.
 */
export function chooseRank(
  singular: ArrayLike<number>,
  rows: number,
  cols: number,
  sourceWidth: number,
  spec: LowRankSpec,
): number {
  const full = Math.min(rows, cols);
  if (spec.energy !== null) {
    let total = 0;
    for (let i = 0; i < full; i++) total += singular[i] ** 2;
    let acc = 0;
    for (let r = 1; r <= full; r++) {
      acc += singular[r - 1] ** 2;
      if (acc >= spec.energy * total * (1 - 1e-12)) return r;
    }
    return full;
  }
  const perRank = (rows + cols) * 2 + 4;
  const budget = (rows * cols * sourceWidth) / spec.ratio!;
  return Math.max(1, Math.min(full, Math.floor(budget / perRank)));
}

/** Decomposes `values` (a `rows × cols` view; non-finite elements count as 0). */
export function decomposeLowRank(
  values: Float32Array,
  rows: number,
  cols: number,
  sourceWidth: number,
  spec: LowRankSpec,
): LowRankFactors {
  const data = Float64Array.from(values, (x) => Number.isFinite(x) ? x : 0);
  const m = Matrix.from1DArray(rows, cols, data);
  const svd = new SingularValueDecomposition(m, { autoTranspose: true });
  const sv = svd.diagonal;
  const rank = chooseRank(sv, rows, cols, sourceWidth, spec);
  const U = svd.leftSingularVectors, V = svd.rightSingularVectors;
  const u = new Float64Array(rows * rank), v = new Float64Array(cols * rank);
  for (let i = 0; i < rows; i++) for (let k = 0; k < rank; k++) u[i * rank + k] = U.get(i, k);
  for (let j = 0; j < cols; j++) for (let k = 0; k < rank; k++) v[j * rank + k] = V.get(j, k);
  return { rank, s: Float64Array.from(sv.slice(0, rank)), u, v };
}
