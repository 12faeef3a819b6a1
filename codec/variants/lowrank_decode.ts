/**
 * Dequantises a rectangle of a low-rank variant (docs/FORMAT.md, "Variants: lowrank"):
 * W'[i, j] = Σₖ (U[i, k]·S[k])·V[j, k], summed in binary32 in order of k. Browser-safe.
 * @module
 */
import type { Rect } from "../tiles.ts";
import type { LowRankLayout } from "./encoding.ts";
import { f16Table32 } from "./float.ts";

/** Factor elements (F16 or BF16 bytes) as binary32. */
export function factorValues(bytes: Uint8Array, dtype: "F16" | "BF16"): Float32Array {
  const n = bytes.length >> 1, out = new Float32Array(n);
  if (dtype === "F16") {
    const t = f16Table32();
    for (let i = 0; i < n; i++) out[i] = t[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  } else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
  }
  return out;
}

/**
 * Writes `rect` (row-major binary32) into `out`, given S (binary32), the rows of U from `uRow0`
 * on and the rows of V from `vRow0` on (each `rank` values per row).
 */
export function dequantiseLowRank(
  e: LowRankLayout,
  rect: Rect,
  s: Float32Array,
  u: Float32Array,
  uRow0: number,
  v: Float32Array,
  vRow0: number,
  out: Float32Array,
): void {
  const r = e.params.rank, cols = rect.c1 - rect.c0;
  const us = new Float32Array(r);
  for (let i = rect.r0; i < rect.r1; i++) {
    const ui = (i - uRow0) * r;
    for (let k = 0; k < r; k++) us[k] = u[ui + k] * s[k];
    const row = (i - rect.r0) * cols;
    for (let j = rect.c0; j < rect.c1; j++) {
      const vj = (j - vRow0) * r;
      let acc = 0;
      for (let k = 0; k < r; k++) acc = Math.fround(acc + Math.fround(us[k] * v[vj + k]));
      out[row + j - rect.c0] = acc !== acc ? NaN : acc; // canonical NaN
    }
  }
}
