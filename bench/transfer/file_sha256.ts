/**
 * SHA-256 of a file on disk, streamed through node:crypto (about 2 GB/s here): how the bench checks
 * every output against the original, independently of the code under test.
 * @module
 */
import { createHash } from "node:crypto";

/**
 * The SHA-256 hex of the file at `path`.
 *
 * @example
 * ```ts ignore
 * import { fileSha256 } from "./file_sha256.ts";
 * console.log(await fileSha256("model.safetensors"));
 * ```
 */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(8 << 20);
    for (;;) {
      const n = await f.read(buf);
      if (n === null) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    f.close();
  }
  return hash.digest("hex");
}
