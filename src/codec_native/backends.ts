/**
 * The backends the CLI, the server and the Deno client inject into the container reader: the
 * native library's kernel and SHA-256, and the system's libzstd, each falling back on its portable
 * twin when it cannot be had. Deno only.
 * @module
 */
import { type Backends, portableBackends } from "../container/backends.ts";
import { loadNativeLibrary } from "./kernel.ts";
import { loadLibzstd } from "./libzstd.ts";

let backends: Backends | undefined;

/**
 * The fastest backends this process can have, opened once.
 *
 * @example
 * ```ts ignore
 * const c = await openContainer(await openFileSource("model.tsr"), nativeBackends());
 * ```
 */
export function nativeBackends(): Backends {
  if (backends) return backends;
  const lib = loadNativeLibrary();
  const zstd = loadLibzstd();
  backends = {
    name: [lib ? "native kernel" : "TypeScript codec", zstd ? "libzstd" : "fzstd"].join(", "),
    sha256: lib?.sha256 ?? portableBackends.sha256,
    zstd: zstd ?? portableBackends.zstd,
    kernel: lib?.batch,
  };
  return backends;
}
