/**
 * Writing binary32 results straight as the bits of a 16- or 32-bit float dtype, so that decoders
 * can fill a per-group table once and then copy table entries: one load and one store per element
 * (docs/FORMAT.md, "Values"). Browser-safe.
 * @module
 */
import type { Dtype } from "../dtype.ts";
import { f32Bits, f32BitsToBf16, f32BitsToF16 } from "./float.ts";

/** The bits of binary32 `v` (rounded to binary32 first) in the dtype; NaN canonical. */
export type ToBits = (v: number) => number;

/** A {@link ToBits} for `dtype`, or null for dtypes written through binary32 arrays. */
export function toBits(dtype: Dtype): ToBits | null {
  switch (dtype) {
    case "F32":
      return (v) => (v !== v ? 0x7fc00000 : f32Bits(v));
    case "BF16":
      return (v) => (v !== v ? 0x7fc0 : f32BitsToBf16(f32Bits(v)));
    case "F16":
      return (v) => (v !== v ? 0x7e00 : f32BitsToF16(f32Bits(v)));
    default:
      return null;
  }
}

/** A 16- or 32-bit view of `bytes` (which must be aligned), for a dtype {@link toBits} covers. */
export function wordView(bytes: Uint8Array, dtype: Dtype): Uint16Array | Uint32Array {
  return dtype === "F32"
    ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2)
    : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
}
