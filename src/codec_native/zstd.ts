/**
 * Native Zstandard through `node:zlib`, injected into the codec on the server and in the CLI.
 * @module
 */
import zlib from "node:zlib";
import type { ZstdCompress } from "../../codec/chunk_encode.ts";
import type { ZstdDecompress } from "../../codec/zstd_decode.ts";
import { CodecError } from "../../codec/errors.ts";
import { checkZstdFrames } from "../../codec/zstd_frame.ts";

/** Compresses with the native library, without a content checksum (the chunk has its own). */
export const nativeZstdCompress: ZstdCompress = (src, level) =>
  zlib.zstdCompressSync(src, {
    // Without a pledged size the frame omits its content size, which decoders rely on. Node has
    // the option; Deno's type definitions lag behind it.
    ...{ pledgedSrcSize: src.length },
    params: {
      [zlib.constants.ZSTD_c_compressionLevel]: level,
      [zlib.constants.ZSTD_c_checksumFlag]: 0,
      [zlib.constants.ZSTD_c_contentSizeFlag]: 1,
    },
  });

/** Decompresses with the native library; refuses output larger than `rawLength`. */
export const nativeZstdDecompress: ZstdDecompress = (src, rawLength) => {
  // zlib stops after the first frame; the check makes trailing bytes an error, as in the portable
  // decoder.
  checkZstdFrames(src, rawLength);
  let out: Uint8Array;
  try {
    out = zlib.zstdDecompressSync(src, { maxOutputLength: Math.max(1, rawLength) });
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
