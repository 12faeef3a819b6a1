/**
 * The files of a local folder as repo files: every regular file below it (symbolic links
 * followed, as in a Hugging Face cache snapshot, whose files link into `blobs/`), with its path
 * in the repo, except version-control and cache folders.
 * @module
 */
import { sha256 } from "../hash/sha256.ts";

/** A file of the folder. */
export interface FolderFile {
  /** Path in the repo, `/`-separated. */
  readonly path: string;
  /** Where it is on disk. */
  readonly local: string;
  /** Size in bytes. */
  readonly size: number;
}

/** Folder names never published. */
const SKIPPED = new Set([".git", ".cache", ".huggingface", "__pycache__"]);

/**
 * Lists `dir`'s files, sorted by path.
 *
 * @example
 * ```ts
 * const files = await folderFiles("./my-model");
 * files.map((f) => f.path); // ["config.json", "model.safetensors"]
 * ```
 */
export async function folderFiles(dir: string): Promise<FolderFile[]> {
  const root = await Deno.stat(dir);
  if (!root.isDirectory) throw new Deno.errors.NotADirectory(`${dir} is not a folder`);
  const out: FolderFile[] = [];
  const walk = async (rel: string) => {
    const here = rel === "" ? dir : `${dir}/${rel}`;
    for await (const e of Deno.readDir(here)) {
      if (SKIPPED.has(e.name)) continue;
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      const local = `${dir}/${path}`;
      const info = await Deno.stat(local); // follows links
      if (info.isDirectory) await walk(path);
      else if (info.isFile) out.push({ path, local, size: info.size });
    }
  };
  await walk("");
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** SHA-256 of a local file, reporting bytes read. */
export async function hashLocalFile(
  path: string,
  onBytes: (n: number) => void = () => {},
  signal?: AbortSignal,
): Promise<string> {
  const h = sha256();
  const f = await Deno.open(path);
  for await (const chunk of f.readable) {
    signal?.throwIfAborted();
    h.update(chunk);
    onBytes(chunk.length);
  }
  return h.hex();
}
