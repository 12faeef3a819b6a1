/**
 * Deno only (not browser-safe): {@link loadModel} with the native backends (kernels, SHA-256,
 * libzstd) and decode worker threads, which start only once the first layer is out and a block is
 * large enough to need them.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import type { Backends } from "../container/backends.ts";
import { type BlockExecutor, inThreadExecutor } from "../container/assemble.ts";
import { createDecodePool, type DecodePool } from "../threads/decode_pool.ts";
import { type LoadedTensor, loadModel, type LoadOptions } from "./load_model.ts";
import { after } from "./timer.ts";

/**
 * {@link loadModel} with native decoding on `workers` threads (one per core by default).
 *
 * The first layer decodes on this thread, and the pool is made once it is out: starting worker
 * isolates costs about 50 ms of CPU each, and taken while the first layer's last blocks decoded
 * (the pool warms at 8 MiB) it delayed that layer on this 2-core machine by hundreds of ms.
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
  const backends = options.backends ?? deferredNativeBackends();
  const workers = options.workers ?? Math.min(8, navigator.hardwareConcurrency || 1);
  const here = inThreadExecutor(backends);
  let pool: DecodePool | undefined, firstLayerOut = false;
  // Workers only once the model proves large: a small one decodes here without starting them.
  const executor: BlockExecutor | undefined = options.executor || workers === 0 ? undefined : {
    parallelism: workers,
    run(block, runs, buffer, writeAt) {
      if (!firstLayerOut) return here.run(block, runs, buffer, writeAt);
      pool ??= createDecodePool(workers, backends, { startAfter: 16 << 20 });
      return pool.run(block, runs, buffer, writeAt);
    },
  };
  try {
    let first: string | undefined;
    for await (
      const t of loadModel(url, { ...options, backends, executor: options.executor ?? executor })
    ) {
      first ??= t.layer;
      if (t.layer !== first) firstLayerOut = true;
      yield t;
    }
  } finally {
    pool?.close();
  }
}

/**
 * The native backends, opened on first use or just after the opening requests leave, whichever
 * comes first: opening them (dlopen of the kernel and libzstd) took 15-30 ms before the first
 * request was sent, and now overlaps its round trip instead. For `loadModelNative` and `pull`.
 *
 * @example
 * ```ts ignore
 * import { deferredNativeBackends } from "./deno_native.ts";
 * const backends = deferredNativeBackends(); // nothing opened yet
 * ```
 */
export function deferredNativeBackends(): Backends {
  let b: Backends | undefined;
  const get = () => b ??= nativeBackends();
  // A timer runs after the microtasks that send the opening requests.
  after(0, get);
  return {
    get name() {
      return get().name;
    },
    sha256: () => get().sha256(),
    get zstd() {
      return get().zstd;
    },
    get kernel() {
      return get().kernel;
    },
    ready: () => get().ready?.() ?? Promise.resolve(),
  };
}
