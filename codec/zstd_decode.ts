/**
 * The portable Zstandard decoder the codec falls back on when no native one is injected.
 * Browser-safe (fzstd is plain JavaScript).
 * @module
 */
import { decompress } from "fzstd";
import { CodecError } from "./errors.ts";
import { checkZstdFrames } from "./zstd_frame.ts";

/** Decompresses one Zstandard frame that must inflate to exactly `rawLength` bytes. */
export type ZstdDecompress = (src: Uint8Array, rawLength: number) => Uint8Array;

/** Decodes with the pure-JavaScript decoder; slower than native, but runs anywhere. */
export const portableZstdDecompress: ZstdDecompress = (src, rawLength) => {
  // fzstd fills a buffer it is given whatever the frame holds (and fails on some valid frames when
  // given one), so the frame walk bounds the size and fzstd allocates.
  checkZstdFrames(src, rawLength);
  let out: Uint8Array;
  try {
    out = decompress(src);
  } catch (e) {
    throw new CodecError("corrupt", `zstd frame does not decode: ${(e as Error).message}`);
  }
  if (out.length !== rawLength) {
    throw new CodecError(
      "corrupt",
      `zstd frame inflates to ${out.length} bytes, expected ${rawLength}`,
    );
  }
  return out;
};
