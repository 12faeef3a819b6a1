/**
 * The error of a variant against the original: relative RMSE and largest absolute difference over
 * the original's finite elements. Browser-safe.
 * @module
 */
import type { Dtype } from "../dtype.ts";
import type { VariantError } from "./encoding.ts";
import { toFloat32 } from "./float.ts";

function asFloat64(bytes: Uint8Array, dtype: Dtype): Float64Array {
  if (dtype === "F64") {
    const out = new Float64Array(bytes.length / 8);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  return Float64Array.from(toFloat32(bytes, dtype));
}

/**
 * ‖W − W'‖ / ‖W‖ and max |W − W'| between `original` and `variant` (bytes of `dtype`), over the
 * elements finite in `original`; 0 for a tensor of zeros reproduced exactly.
 */
export function measureError(
  original: Uint8Array,
  variant: Uint8Array,
  dtype: Dtype,
): VariantError {
  const a = asFloat64(original, dtype), b = asFloat64(variant, dtype);
  let num = 0, den = 0, maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) continue;
    const d = a[i] - b[i];
    num += d * d;
    den += a[i] * a[i];
    const ad = Math.abs(d);
    if (!(ad <= maxAbs)) maxAbs = ad; // NaN and infinity propagate
  }
  const rel = den > 0 ? Math.sqrt(num / den) : num > 0 ? Infinity : 0;
  return {
    relRmse: Number.isFinite(rel) ? rel : null,
    maxAbs: Number.isFinite(maxAbs) ? maxAbs : null,
  };
}
