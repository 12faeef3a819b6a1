/**
 * What git would store for a repo file, so that the tree, `paths-info` and the `ETag` of a
 * non-LFS file carry the ids Hugging Face clients expect: the git blob id of the bytes, or of the
 * Git LFS pointer for files that the Hub keeps in LFS.
 * @module
 */
import { createHash } from "node:crypto";

/** Files above this size go to LFS whatever their name (the Hub's limit for plain git files). */
export const LFS_THRESHOLD = 10 << 20;

/**
 * Extensions the Hub's default `.gitattributes` sends to LFS (binary weights, archives, arrays),
 * plus `.tsr`.
 */
const LFS_PATTERN =
  /\.(7z|arrow|bin|bz2|ckpt|ftz|gguf|gz|h5|joblib|mlmodel|model|msgpack|npy|npz|onnx|ot|parquet|pb|pickle|pkl|pt|pth|rar|safetensors|tar|tflite|tgz|tsr|wasm|xz|zip|zst)$|tfevents/;

/**
 * Whether the Hub would keep file `path` of `size` bytes in LFS.
 *
 * @example
 * ```ts
 * isLfs("model-00001-of-00003.safetensors", 1000); // true
 * isLfs("config.json", 700); // false
 * ```
 */
export function isLfs(path: string, size: number): boolean {
  return size > LFS_THRESHOLD || LFS_PATTERN.test(path.slice(path.lastIndexOf("/") + 1));
}

/**
 * The Git LFS pointer of a file with `sha256` and `size`.
 *
 * @example
 * ```ts
 * lfsPointer("ab…", 10);
 * // "version https://git-lfs.github.com/spec/v1\noid sha256:ab…\nsize 10\n"
 * ```
 */
export function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

/** The git blob id of `bytes`: SHA-1 of `blob <size>\0<bytes>`. */
export function gitBlobOid(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/** The git blob id of the LFS pointer of a file with `sha256` and `size`. */
export function lfsPointerOid(sha256: string, size: number): string {
  return gitBlobOid(new TextEncoder().encode(lfsPointer(sha256, size)));
}

/**
 * An incremental git blob id for a file of known `size`.
 *
 * @example
 * ```ts
 * const h = gitBlobHasher(3); h.update(new Uint8Array([1, 2, 3])); h.hex();
 * ```
 */
export function gitBlobHasher(size: number): { update(b: Uint8Array): void; hex(): string } {
  const h = createHash("sha1").update(`blob ${size}\0`);
  return { update: (b) => void h.update(b), hex: () => h.digest("hex") };
}
