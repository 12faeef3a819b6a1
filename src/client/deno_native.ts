/**
 * Deno only (not browser-safe): {@link loadModel} with the native backends (kernels, SHA-256,
 * libzstd) and decode worker threads, which start only once a block is large enough to need them.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { createDecodePool } from "../threads/decode_pool.ts";
import { type LoadedTensor, loadModel, type LoadOptions } from "./load_model.ts";

/**
 * {@link loadModel} with native decoding on `workers` threads (one per core by default).
 *
 * @example
 * ```ts ignore
 * import { loadModelNative } from "./deno_native.ts";
 * for await (const t of loadModelNative("http://127.0.0.1:8080/v1/models/demo/stories260k")) {
 *   console.log(t.name);
 * }
 * ```
 */
export async function* loadModelNative(
  url: string | URL,
  options: LoadOptions & { readonly workers?: number } = {},
): AsyncGenerator<LoadedTensor> {
  const backends = options.backends ?? nativeBackends();
  const workers = options.workers ?? Math.min(8, navigator.hardwareConcurrency || 1);
  // Workers only once the model proves large: a small one decodes here without starting them.
  const pool = options.executor || workers === 0
    ? undefined
    : createDecodePool(workers, backends, { startAfter: 16 << 20 });
  try {
    yield* loadModel(url, { ...options, backends, executor: options.executor ?? pool });
  } finally {
    pool?.close();
  }
}
