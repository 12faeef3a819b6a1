/**
 * Rounds scales to the dtype they are stored in, so that encoders quantise against exactly what
 * decoders will read. Browser-safe.
 * @module
 */
import type { ScaleDtype } from "./encoding.ts";
import { f16Table32, f32Bits, f32BitsToF16 } from "./float.ts";

const F16_MIN_NORMAL = 2 ** -14, F16_MAX = 65504;

/**
 * F16 if every non-zero finite scale lies in F16's normal range (so its relative rounding error
 * stays under 2⁻¹¹), else F32; `F32` forces F32.
 */
export function chooseScaleDtype(scales: Float32Array, wanted: "auto" | "F32"): ScaleDtype {
  if (wanted === "F32") return "F32";
  for (let i = 0; i < scales.length; i++) {
    const a = Math.abs(scales[i]);
    if (a !== 0 && (a < F16_MIN_NORMAL || a > F16_MAX || !Number.isFinite(a))) return "F32";
  }
  return "F16";
}

/** `scales` rounded in place to `dtype`; returns their bytes. */
export function storeScales(scales: Float32Array, dtype: ScaleDtype): Uint8Array {
  if (dtype === "F32") return new Uint8Array(scales.slice().buffer);
  const out = new Uint8Array(scales.length * 2), t = f16Table32();
  for (let i = 0; i < scales.length; i++) {
    const h = f32BitsToF16(f32Bits(scales[i]));
    out[2 * i] = h;
    out[2 * i + 1] = h >> 8;
    scales[i] = t[h];
  }
  return out;
}
