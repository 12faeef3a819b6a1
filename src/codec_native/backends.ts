/**
 * The backends the CLI, the server and the Deno client inject into the container reader: the
 * native library's kernel and SHA-256, and the system's libzstd. Without a native build (no C
 * compiler) the WebAssembly build of the same kernels stands in, which decodes at about two thirds
 * of the native speed and needs no portable package; without libzstd, the portable WebAssembly
 * decoder does (loaded by openContainer through `ready`, and by the decode workers); with neither,
 * the TypeScript codec and SHA-256. Deno only.
 * @module
 */
import type { Backends } from "../container/backends.ts";
import { loadPortableZstd, portableZstdDecompress } from "../../codec/zstd_decode.ts";
import { instantiateWasmKernelSync, type WasmLibrary } from "../codec_wasm/kernel.ts";
import { portableSha256 } from "../hash/sha256_portable.ts";
import { loadNativeLibrary } from "./kernel.ts";
import { loadLibzstd } from "./libzstd.ts";

/** The committed WebAssembly build of the kernels. */
const WASM = new URL("../../native/wasm/tsr_kernel.wasm", import.meta.url);

let backends: Backends | undefined;

/**
 * The fastest backends this process can have, opened once.
 *
 * @example
 * ```ts ignore
 * const c = await openContainer(await openFileReader("model.tsr"), nativeBackends());
 * ```
 */
export function nativeBackends(): Backends {
  if (backends) return backends;
  const lib = loadNativeLibrary();
  const wasm = lib ? undefined : loadWasm();
  const zstd = loadLibzstd();
  const kernel = lib ? "native kernel" : wasm ? "wasm kernel" : "TypeScript codec";
  backends = {
    name: `${kernel}, ${zstd ? "libzstd" : "zstd wasm"}`,
    sha256: (lib ?? wasm)?.sha256 ?? portableSha256,
    zstd: zstd ?? portableZstdDecompress,
    kernel: (lib ?? wasm)?.batch,
    ready: zstd ? undefined : loadPortableZstd,
  };
  return backends;
}

function loadWasm(): WasmLibrary | undefined {
  try {
    return instantiateWasmKernelSync(Deno.readFileSync(WASM));
  } catch {
    return undefined;
  }
}
