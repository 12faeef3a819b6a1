/**
 * Which tensors may hold packed 4-bit integers (docs/FORMAT.md, "Packed INT4"): the dtype in a
 * safetensors header says I32 or U8, so the name and shape tell. Browser-safe.
 * @module
 */
import { type Dtype, mayPackInt4 } from "./dtype.ts";

// GPTQ and AWQ name their packed tensors `<module>.qweight` and `<module>.qzeros`.
const PACKED_NAME = /(^|[./_])(qweight|qzeros)$/;

/**
 * Whether a tensor looks like packed INT4: a 2-D integer tensor (I32, U32, U8 or I8) named
 * `...qweight` or `...qzeros`. A writer then tries the packed layout and keeps it if it codes
 * smaller; anything else keeps one plane per byte.
 *
 * @example
 * ```ts
 * int4Candidate("model.layers.0.mlp.up_proj.qweight", "I32", [64, 172]); // true
 * int4Candidate("model.layers.0.mlp.up_proj.weight", "F16", [172, 64]); // false
 * ```
 */
export function int4Candidate(name: string, dtype: Dtype, shape: readonly number[]): boolean {
  return mayPackInt4(dtype) && shape.length === 2 && shape[0] > 0 && shape[1] > 0 &&
    PACKED_NAME.test(name);
}
