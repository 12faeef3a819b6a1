/**
 * Content digests of stored files, computed once per file version. A container's SHA-256 is also
 * written beside it (`.model.tsr.sha256`, keyed by inode, size and mtime), so a restart does not
 * rehash gigabytes; sidecar digests (SHA-256 and the git blob id Hugging Face clients expect) are
 * kept in memory only, since sidecars are small.
 * @module
 */
import { createHash } from "node:crypto";
import { sha256Hex } from "../hash/sha256.ts";
import { createAtomicFile } from "../io/atomic_file.ts";
import type { PositionalReader } from "../io/positional_reader.ts";

/** Digests of one sidecar file. */
export interface SidecarDigest {
  /** Lower-case hex SHA-256. */
  readonly sha256: string;
  /** Git blob id: SHA-1 of `blob <size>\0<bytes>`. */
  readonly gitOid: string;
  /** Size in bytes. */
  readonly size: number;
}

/** Caches file digests by file version. */
export interface FileDigests {
  /** SHA-256 of the container file `reader` has open, from the sidecar meta file when current. */
  container(reader: PositionalReader): Promise<string>;
  /** Digests of the sidecar at `path`; rejects when it does not exist. */
  sidecar(path: string): Promise<SidecarDigest>;
}

/** Name of the file that records a container's SHA-256 beside it. */
export const DIGEST_META_FILE = ".model.tsr.sha256";

const HASH_BLOCK = 8 << 20;

interface Meta {
  ino: number;
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** The git blob id of `bytes`. */
export function gitBlobOid(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/** Hashes all of `reader`. */
export async function hashReader(reader: PositionalReader): Promise<string> {
  const h = createHash("sha256");
  for (let off = 0; off < reader.size; off += HASH_BLOCK) {
    h.update(await reader.readAt(off, Math.min(HASH_BLOCK, reader.size - off)));
  }
  return h.digest("hex");
}

/** Records `sha256` as the digest of the container `reader` has open, beside it. */
export async function writeDigestMeta(reader: PositionalReader, sha256: string): Promise<void> {
  const dir = reader.path.slice(0, reader.path.lastIndexOf("/"));
  const meta: Meta = {
    ino: reader.ino,
    size: reader.size,
    mtimeMs: Math.floor(reader.mtimeMs),
    sha256,
  };
  const f = await createAtomicFile(`${dir}/${DIGEST_META_FILE}`);
  try {
    await f.writeAt(0, new TextEncoder().encode(JSON.stringify(meta) + "\n"));
    await f.commit();
  } catch (e) {
    await f.abort();
    throw e;
  }
}

async function readDigestMeta(reader: PositionalReader): Promise<string | null> {
  const dir = reader.path.slice(0, reader.path.lastIndexOf("/"));
  try {
    const m = JSON.parse(await Deno.readTextFile(`${dir}/${DIGEST_META_FILE}`)) as Meta;
    const fresh = m.ino === reader.ino && m.size === reader.size &&
      m.mtimeMs === Math.floor(reader.mtimeMs) && /^[0-9a-f]{64}$/.test(m.sha256);
    return fresh ? m.sha256 : null;
  } catch {
    return null;
  }
}

/**
 * Creates an empty digest cache.
 *
 * @example
 * ```ts
 * const digests = createFileDigests();
 * const { sha256 } = await digests.sidecar("models/demo/stories260k/main/config.json");
 * ```
 */
export function createFileDigests(): FileDigests {
  const containers = new Map<string, Promise<string>>();
  const sidecars = new Map<string, Promise<SidecarDigest>>();
  return {
    container(reader) {
      const key = `${reader.path}|${reader.ino}|${reader.size}|${Math.floor(reader.mtimeMs)}`;
      let p = containers.get(key);
      if (!p) {
        p = (async () => {
          const known = await readDigestMeta(reader);
          if (known) return known;
          const sha = await hashReader(reader);
          // Best effort: a read-only models folder still serves, it just rehashes after a restart.
          await writeDigestMeta(reader, sha).catch(() => {});
          return sha;
        })();
        containers.set(key, p);
        p.catch(() => containers.delete(key));
      }
      return p;
    },
    async sidecar(path) {
      const s = await Deno.stat(path);
      const key = `${path}|${s.ino}|${s.size}|${s.mtime?.getTime()}`;
      let p = sidecars.get(key);
      if (!p) {
        p = Deno.readFile(path).then((bytes) => ({
          sha256: sha256Hex(bytes),
          gitOid: gitBlobOid(bytes),
          size: bytes.length,
        }));
        sidecars.set(key, p);
        p.catch(() => sidecars.delete(key));
      }
      return p;
    },
  };
}
