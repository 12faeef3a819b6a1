/**
 * int8 quantisation (docs/FORMAT.md, "Variants: int8"): per group of columns of each row, a
 * symmetric scale s = max|x| / 127 with codes in [−127, 127], or an asymmetric scale
 * s = (max − min) / 255 over a range widened to hold 0, with a zero point z so that 0 is exact.
 * Browser-safe.
 * @module
 */
import type { Int8Spec } from "./spec.ts";
import type { ScaleDtype } from "./encoding.ts";
import { chooseScaleDtype, storeScales } from "./scales_encode.ts";

/** Scales, zero points and codes of a whole `rows × cols` view, row-major. */
export interface Int8Quantised {
  readonly scale: ScaleDtype;
  /** The columns per group actually used (cols for one group per row). */
  readonly group: number;
  /** Scale bytes, one per (row, group), in `scale` dtype. */
  readonly scales: Uint8Array;
  /** Zero points, one per (row, group); null for the symmetric scheme. */
  readonly zeros: Uint8Array | null;
  /** One code per element: two's complement (symmetric) or unsigned (asymmetric). */
  readonly codes: Uint8Array;
}

/** Quantises `values`, a `rows × cols` view. */
export function quantiseInt8(
  values: Float32Array,
  rows: number,
  cols: number,
  spec: Int8Spec,
): Int8Quantised {
  const group = spec.group === 0 || spec.group >= cols ? Math.max(1, cols) : spec.group;
  const groups = Math.ceil(cols / group);
  const asym = spec.scheme === "asymmetric";
  const scales = new Float32Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < groups; j++) {
      let lo = 0, hi = 0;
      const end = Math.min(cols, (j + 1) * group);
      for (let c = r * cols + j * group; c < r * cols + end; c++) {
        const x = values[c];
        if (x < lo && x !== -Infinity) lo = x;
        if (x > hi && x !== Infinity) hi = x;
      }
      scales[r * groups + j] = asym ? (hi - lo) / 255 : Math.max(hi, -lo) / 127;
    }
  }
  const scale = chooseScaleDtype(scales, spec.scale);
  const scaleBytes = storeScales(scales, scale);
  const zeros = asym ? new Uint8Array(rows * groups) : null;
  const codes = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < groups; j++) {
      const k = r * groups + j, s = scales[k];
      const end = Math.min(cols, (j + 1) * group);
      if (!asym) {
        for (let c = r * cols + j * group; c < r * cols + end; c++) {
          const q = s > 0 ? Math.round(values[c] / s) : 0;
          codes[c] = Number.isNaN(q) ? 0 : Math.max(-127, Math.min(127, q)) & 0xff;
        }
        continue;
      }
      // The smallest value in the group (≤ 0) maps to code 0 when z = round(−lo / s).
      let lo = 0;
      for (let c = r * cols + j * group; c < r * cols + end; c++) {
        if (values[c] < lo && values[c] !== -Infinity) lo = values[c];
      }
      const z = s > 0 ? Math.max(0, Math.min(255, Math.round(-lo / s))) : 0;
      zeros![k] = z;
      for (let c = r * cols + j * group; c < r * cols + end; c++) {
        const q = s > 0 ? Math.round(values[c] / s) + z : z;
        codes[c] = Number.isNaN(q) ? z : Math.max(0, Math.min(255, q));
      }
    }
  }
  return { scale, group, scales: scaleBytes, zeros, codes };
}
