/**
 * Deno only (not browser-safe): {@link loadModel} with the native Zstandard decoder of `node:zlib`,
 * several times faster than the portable one for `compressed` transport.
 * @module
 */
import { nativeZstdDecompress } from "../codec_native/zstd.ts";
import { type LoadedTensor, loadModel, type LoadOptions } from "./load_model.ts";

/**
 * {@link loadModel}, decoding Zstandard planes natively unless `options.zstdDecompress` is given.
 *
 * @example
 * ```ts ignore
 * import { loadModelNative } from "./deno_native.ts";
 * for await (const t of loadModelNative("http://127.0.0.1:8080/v1/models/demo/stories260k")) {
 *   console.log(t.name);
 * }
 * ```
 */
export function loadModelNative(
  url: string | URL,
  options: LoadOptions = {},
): AsyncGenerator<LoadedTensor> {
  return loadModel(url, { zstdDecompress: nativeZstdDecompress, ...options });
}
