/**
 * Decodes chunk `i` of a lossy variant into its checked sections. Browser-safe; imports no
 * encoder.
 * @module
 */
import type { DecodeOptions } from "../chunk_decode.ts";
import type { Dtype } from "../dtype.ts";
import { chunkLayout, type LossyEncoding } from "./encoding.ts";
import { decodeSections, type SectionDecoder } from "./sections_decode.ts";

/**
 * Decodes `stored`, the stored bytes of chunk `i` of `e` (a variant of a `dtype` tensor), checks
 * it against its record and returns its sections, as views of one fresh payload buffer.
 * Throws {@link CodecError}.
 */
export function decodeVariantChunk(
  e: LossyEncoding,
  dtype: Dtype,
  i: number,
  stored: Uint8Array,
  options: DecodeOptions & { readonly decodeSection?: SectionDecoder } = {},
): Uint8Array[] {
  const [, storedLength, rawLength, storedXxh32, rawXxh32] = e.chunks[i];
  const layout = chunkLayout(e, dtype, i);
  const out = new Uint8Array(rawLength);
  return decodeSections(
    stored,
    { storedLength, rawLength, storedXxh32, rawXxh32 },
    layout.layouts,
    layout.rawLengths,
    out,
    options,
  ).parts;
}
