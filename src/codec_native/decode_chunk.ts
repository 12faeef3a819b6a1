/**
 * One chunk decoded the fastest way available: the native kernel first, the TypeScript codec for
 * whatever it leaves (zstd planes, failures), so that every error message comes from the codec.
 * @module
 */
import { type ChunkEntry, decodeChunk, type DecodeOptions } from "../../codec/chunk_decode.ts";
import type { PlaneLayout } from "../../codec/dtype.ts";
import { decodeChunkNative } from "./kernel.ts";
import { nativeZstdDecompress } from "./zstd.ts";

/**
 * Decodes `stored` into `out` and verifies it against `entry`, as codec/'s decodeChunk does and
 * with its errors. The kernel is skipped when `native` is false or the stored checksum is asked for.
 */
export function decodeChunkFast(
  stored: Uint8Array,
  entry: ChunkEntry,
  layout: PlaneLayout,
  out: Uint8Array,
  options: DecodeOptions & { readonly native?: boolean } = {},
): void {
  if (
    options.native !== false && !options.verifyStored && stored.length === entry.storedLength &&
    decodeChunkNative(stored, entry.rawXxh32, layout, out)
  ) return;
  decodeChunk(stored, entry, layout, out, { zstdDecompress: nativeZstdDecompress, ...options });
}
