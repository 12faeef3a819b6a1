/**
 * Reads the values of a floating-point safetensors tensor (F32, BF16, F16) as doubles, for the
 * bench's quantised inputs.
 * @module
 */
import type { Dtype } from "../../codec/dtype.ts";

/** The values of `bytes`, a little-endian `dtype` tensor; null for a dtype that is not F32, BF16 or F16. */
export function floatValues(bytes: Uint8Array, dtype: Dtype): Float64Array | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "F32") {
    const out = new Float64Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  if (dtype === "BF16") {
    const out = new Float64Array(bytes.length / 2), u = new DataView(new ArrayBuffer(4));
    for (let i = 0; i < out.length; i++) {
      u.setUint32(0, view.getUint16(2 * i, true) << 16);
      out[i] = u.getFloat32(0);
    }
    return out;
  }
  if (dtype === "F16") {
    const out = new Float64Array(bytes.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat16(2 * i, true);
    return out;
  }
  return null;
}
