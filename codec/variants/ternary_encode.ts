/**
 * Ternary decomposition of a whole view (docs/FORMAT.md, "Variants: ternary"): scales per group,
 * one element byte of 2-bit trit fields per element, and the base3 packing. Browser-safe.
 * @module
 */
import type { ScaleDtype } from "./encoding.ts";
import type { TernarySpec } from "./spec.ts";
import { chooseScaleDtype, storeScales } from "./scales_encode.ts";
import { assignNearest, fitScratch, fitTernary, sortedLevels } from "./ternary_fit.ts";

/** Scales and element bytes of a whole `rows × cols` view. */
export interface TernaryQuantised {
  readonly scale: ScaleDtype;
  /** Columns per group actually used. */
  readonly group: number;
  /** Scale bytes, `bases` per (row, group), in `scale` dtype. */
  readonly scales: Uint8Array;
  /** One byte per element: field k (bits 2k, 2k+1) is 0, 1 or 3 for trit 0, +1, −1. */
  readonly codes: Uint8Array;
}

const FIELD = [0, 1, 3]; // combination digit (0, 1, 2 = trit 0, +1, −1) to 2-bit field

/** The element byte of level combination `m`. */
export function comboByte(m: number, bases: number): number {
  let byte = 0;
  for (let k = 0; k < bases; k++, m = Math.floor(m / 3)) byte |= FIELD[m % 3] << (2 * k);
  return byte;
}

/** Decomposes `values`, a `rows × cols` view. */
export function quantiseTernary(
  values: Float32Array,
  rows: number,
  cols: number,
  spec: TernarySpec,
): TernaryQuantised {
  const bases = spec.bases;
  const group = spec.group === 0 || spec.group >= cols ? Math.max(1, cols) : spec.group;
  const groups = Math.ceil(cols / group);
  const alphas = new Float32Array(rows * groups * bases);
  const codes = new Uint8Array(rows * cols);
  const greedyTrits = spec.fit === "greedy" ? new Int8Array(rows * cols * bases) : null;
  const alpha = new Float64Array(bases), scratch = fitScratch();
  const trits = new Int8Array(group * bases);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < groups; j++) {
      const begin = r * cols + j * group, end = r * cols + Math.min(cols, (j + 1) * group);
      const x = values.subarray(begin, end);
      const t = trits.subarray(0, x.length * bases);
      fitTernary(x, bases, spec.fit, alpha, t, scratch);
      for (let k = 0; k < bases; k++) alphas[(r * groups + j) * bases + k] = alpha[k];
      if (greedyTrits) greedyTrits.set(t, begin * bases);
    }
  }
  const scale = chooseScaleDtype(alphas, spec.scale);
  const scales = storeScales(alphas, scale);
  const assigned = new Uint16Array(group);
  const byteOf = Uint8Array.from({ length: 3 ** bases }, (_, m) => comboByte(m, bases));
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < groups; j++) {
      const begin = r * cols + j * group, end = r * cols + Math.min(cols, (j + 1) * group);
      const n = end - begin;
      const a = alphas.subarray((r * groups + j) * bases, (r * groups + j + 1) * bases);
      if (greedyTrits) {
        // The greedy pattern stays as fitted; only the scales were rounded.
        const t = greedyTrits.subarray(begin * bases, end * bases);
        for (let i = 0; i < n; i++) {
          let byte = 0;
          for (let k = 0; k < bases; k++) byte |= (t[k * n + i] & 3) << (2 * k);
          codes[begin + i] = byte;
        }
        continue;
      }
      // Final assignment against the levels exactly as a decoder computes them from the stored
      // scales, so that rounding the scales costs nothing it need not.
      const { levels, combos } = sortedLevels(a, bases, true);
      assignNearest(values.subarray(begin, end), levels, combos, assigned);
      for (let i = 0; i < n; i++) codes[begin + i] = byteOf[assigned[i]];
    }
  }
  return { scale, group, scales, codes };
}

/** Packs the element bytes of `n` elements as base3: trit e·N + k is digit (i mod 5) of byte ⌊i/5⌋. */
export function packBase3(codes: Uint8Array, bases: number): Uint8Array {
  const total = codes.length * bases;
  const out = new Uint8Array(Math.ceil(total / 5));
  const digitOfField = [0, 1, 0, 2]; // field 0, 1, 3 = trit 0, +1, −1 = digit 0, 1, 2
  const pow = [1, 3, 9, 27, 81];
  for (let i = 0; i < total; i++) {
    const e = Math.floor(i / bases), k = i - e * bases;
    out[Math.floor(i / 5)] += digitOfField[(codes[e] >> (2 * k)) & 3] * pow[i % 5];
  }
  return out;
}
