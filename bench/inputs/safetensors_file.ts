/**
 * Serialises tensors as a safetensors file, for the bench's derived inputs: tensors in the order
 * given, contiguous data offsets, the header padded with spaces to a multiple of 8.
 * @module
 */
import { type Dtype, dtypeWidth } from "../../codec/dtype.ts";

/** One tensor to write. */
export interface OutTensor {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Little-endian element bytes, `product(shape) × width` of them. */
  readonly data: Uint8Array;
}

/** The bytes of a safetensors file holding `tensors` and `metadata`. */
export function safetensorsBytes(
  tensors: readonly OutTensor[],
  metadata: Record<string, string>,
): Uint8Array {
  const entries: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n * dtypeWidth(t.dtype)) {
      throw new RangeError(`${t.name}: ${t.data.length} bytes for ${t.dtype} ${t.shape}`);
    }
    entries[t.name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + n * dtypeWidth(t.dtype)],
    };
    offset += t.data.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(entries));
  const header = new Uint8Array(json.length + ((8 - (json.length % 8)) % 8)).fill(0x20);
  header.set(json);
  const out = new Uint8Array(8 + header.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let at = 8 + header.length;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}
