/**
 * Reads scale sections (F16 or F32 elements) as binary32. Browser-safe.
 * @module
 */
import type { ScaleDtype } from "./encoding.ts";
import { f16Table32 } from "./float.ts";

/** Scale `i` of a section of `dtype` elements, as binary32. */
export function scaleReader(bytes: Uint8Array, dtype: ScaleDtype): (i: number) => number {
  if (dtype === "F16") {
    const t = f16Table32();
    return (i) => t[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return (i) => view.getFloat32(4 * i, true);
}
