/**
 * Decodes chunk `i` of a lossy variant into its checked sections. Browser-safe; imports no
 * encoder.
 * @module
 */
import type { ChunkEntry, DecodeOptions } from "../chunk_decode.ts";
import type { Dtype } from "../dtype.ts";
import { chunkLayout, type VariantLayout } from "./encoding.ts";
import { decodeSections, type SectionDecoder } from "./sections_decode.ts";

/** Options of {@link decodeVariantChunk}. */
export interface VariantChunkOptions extends DecodeOptions {
  /** Decodes a section that is an ordinary chunk (a native kernel); the TypeScript codec else. */
  readonly decodeSection?: SectionDecoder;
  /** Where the payload goes (`entry.rawLength` bytes); a fresh buffer by default. */
  readonly out?: Uint8Array;
}

/**
 * Decodes `stored`, the stored bytes of chunk `i` of a variant of layout `e` (of a `dtype`
 * tensor) whose record is `entry`, checks it against the record and returns its sections, as
 * views of one payload buffer. Throws {@link CodecError}.
 *
 * @example
 * ```ts ignore
 * const [offset, storedLength, rawLength, storedXxh32, rawXxh32] = e.chunks[i];
 * const entry = { storedLength, rawLength, storedXxh32, rawXxh32 };
 * const [scales, codes] = decodeVariantChunk(e, "BF16", i, entry, file.subarray(offset, offset + storedLength));
 * ```
 */
export function decodeVariantChunk(
  e: VariantLayout,
  dtype: Dtype,
  i: number,
  entry: ChunkEntry,
  stored: Uint8Array,
  options: VariantChunkOptions = {},
): Uint8Array[] {
  const layout = chunkLayout(e, dtype, i);
  return decodeSections(
    stored,
    entry,
    layout.layouts,
    layout.rawLengths,
    options.out ?? new Uint8Array(entry.rawLength),
    options,
  ).parts;
}

/** The record of chunk `i` of an encoding's chunk table, as {@link decodeVariantChunk} takes it. */
export function chunkEntry(
  chunks: readonly (readonly number[])[],
  i: number,
): ChunkEntry {
  const [, storedLength, rawLength, storedXxh32, rawXxh32] = chunks[i];
  return { storedLength, rawLength, storedXxh32, rawXxh32 };
}
