/**
 * The native library's C sources, in build order: `deno task native` compiles their SHA-256 into
 * the library, and the loader compares it with the SHA-256 of the sources beside it, so a library
 * built from other sources (same interface version, different code, as after a checkout) is never
 * loaded. Each side hashes with what it has at hand (Web Crypto in the build script, the library's
 * own SHA-256 in the loader: a `node:crypto` import would cost every process 45 ms of start-up).
 * @module
 */

/** The C files the native library is built from, in the order they are hashed and compiled. */
export const NATIVE_SOURCES: readonly URL[] = [
  new URL("../../native/tsr_kernel.c", import.meta.url),
  new URL("../../native/tsr_sha256.c", import.meta.url),
  new URL("../../native/tsr_unpack.c", import.meta.url),
];

/**
 * The sources' bytes joined in order, the input of the digest; undefined when they cannot be
 * read (an installation without them trusts its library).
 *
 * @example
 * ```ts ignore
 * const joined = nativeSources();
 * if (joined) console.log(joined.length, "bytes of C");
 * ```
 */
export function nativeSources(): Uint8Array<ArrayBuffer> | undefined {
  let parts: Uint8Array[];
  try {
    parts = NATIVE_SOURCES.map((url) => Deno.readFileSync(url));
  } catch {
    return undefined;
  }
  const joined = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  parts.reduce((at, b) => (joined.set(b, at), at + b.length), 0);
  return joined;
}
