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

/**
 * Runs `inflate` on `src` with the checks every decoder needs: whole frames that declare
 * `rawLength` bytes in all, inflating to exactly that. Failures are `CodecError`s.
 */
export function checkedInflate(
  src: Uint8Array,
  rawLength: number,
  inflate: (src: Uint8Array) => Uint8Array,
): Uint8Array {
  checkZstdFrames(src, rawLength);
  let out: Uint8Array;
  try {
    out = inflate(src);
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
}

/**
 * Decodes with the pure-JavaScript decoder; slower than native, but runs anywhere. fzstd fills a
 * buffer it is given whatever the frame holds (and fails on some valid frames when given one), so
 * the frame walk bounds the size and fzstd allocates.
 */
export const portableZstdDecompress: ZstdDecompress = (src, rawLength) =>
  checkedInflate(src, rawLength, (s) => decompress(s));
