/**
 * Native Zstandard through `node:zlib`, injected into the codec on the server and in the CLI.
 * @module
 */
import zlib from "node:zlib";
import type { ZstdCompress } from "../../codec/chunk_encode.ts";
import { checkedInflate, type ZstdDecompress } from "../../codec/zstd_decode.ts";

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

/**
 * Decompresses with the native library, which stops after the first frame and is told to refuse
 * output larger than `rawLength`; the shared checks make stray bytes an error as in the portable
 * decoder.
 */
export const nativeZstdDecompress: ZstdDecompress = (src, rawLength) =>
  checkedInflate(
    src,
    rawLength,
    (s) => zlib.zstdDecompressSync(s, { maxOutputLength: Math.max(1, rawLength) }),
  );
