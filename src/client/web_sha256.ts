/**
 * SHA-256 through Web Crypto, which Deno and every browser provide, and the hex it is compared in.
 * Browser-safe.
 * @module
 */

/**
 * Lower-case hex SHA-256 of `bytes`.
 *
 * @example
 * ```ts
 * import { webSha256Hex } from "./web_sha256.ts";
 * const hex = await webSha256Hex(new TextEncoder().encode("abc"));
 * console.assert(hex.startsWith("ba7816bf"));
 * ```
 */
export async function webSha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)),
  );
}

/** Lower-case hex of `bytes`, two digits a byte; how digests are written in indexes and manifests. */
export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}
