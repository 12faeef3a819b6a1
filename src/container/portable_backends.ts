/**
 * Backends that run anywhere: SHA-256 in TypeScript and Zstandard in WebAssembly (libzstd's
 * decoder, loaded on first use), no kernel. Browser-safe.
 * @module
 */
import { loadPortableZstd, portableZstdDecompress } from "../../codec/zstd_decode.ts";
import { portableSha256 } from "../hash/sha256_portable.ts";
import type { Backends } from "./backends.ts";

/**
 * Backends that run anywhere: TypeScript SHA-256 (about 125 MB/s) and Zstandard (libzstd
 * in WebAssembly, loaded by openContainer through `ready`), no kernel.
 *
 * @example
 * ```ts
 * import { portableBackends } from "./portable_backends.ts";
 * import { sha256Hex } from "./backends.ts";
 * console.assert(sha256Hex(portableBackends, new Uint8Array()).startsWith("e3b0c442"));
 * ```
 */
export const portableBackends: Backends = {
  name: "portable",
  sha256: portableSha256,
  zstd: portableZstdDecompress,
  ready: loadPortableZstd,
};
