/**
 * Backends for browsers with the WebAssembly kernels: the batch decoder and SHA-256 from
 * `native/wasm/tsr_kernel.wasm`, Zstandard from the portable (WebAssembly libzstd) decoder.
 * Browser-safe.
 * @module
 */
import type { Backends } from "../container/backends.ts";
import { portableBackends } from "../container/portable_backends.ts";
import { instantiateWasmKernel } from "./kernel.ts";

/**
 * Backends over the WebAssembly module whose bytes are `wasm`.
 *
 * @example
 * ```ts ignore
 * const wasm = await (await fetch("/assets/tsr_kernel.wasm")).arrayBuffer();
 * const backends = await wasmBackends(wasm);
 * for await (const t of loadModel(url, { backends })) console.log(t.name);
 * ```
 */
export async function wasmBackends(wasm: BufferSource): Promise<Backends> {
  const lib = await instantiateWasmKernel(wasm);
  return {
    name: "wasm kernel, zstd wasm",
    sha256: lib.sha256,
    zstd: portableBackends.zstd,
    kernel: lib.batch,
    ready: portableBackends.ready,
  };
}
