/**
 * The {@link ObjectStore} over a local folder (`--store file:DIR`, and `--models DIR`):
 *
 * ```
 * DIR/.lock                         flock held by the one process using the folder
 * DIR/.tmp/                         scratch: uploads being received, containers being packed,
 *                                   objects and refs being written (emptied at open)
 * DIR/blobs/<ab>/<sha256>           file contents and containers, by SHA-256 (fan-out on 2 hex)
 * DIR/repos/<org>/<name>/refs.json  a repo's branches (the one mutable object per repo)
 * DIR/repos/<org>/<name>/commits/<id>.json
 * DIR/packed/<sha256>.json          which container holds the safetensors file of that SHA-256
 * DIR/uploads/<sha256>.json         uploads not yet in a commit, with their time
 * ```
 *
 * Every write goes to `.tmp` first and is fsynced, then moved into place: objects with `link`
 * (create-if-absent, atomic), refs with `rename` (atomic replace), then the directory is fsynced.
 * A process killed at any point therefore leaves the old object or ref, or the new one, plus
 * files in `.tmp`, which the next open removes; it holds the folder's lock, so no live process
 * can own them. Compare-and-swap on refs is a per-key mutex within the process; the lock keeps
 * other processes out, which is also why refs are cached in memory once read: this process is the
 * only writer, and its writes update the cache (the soak measured reading refs.json on every
 * request at a tenth of the server's time).
 * @module
 */
import { createHash } from "node:crypto";
import { openPositionalReader } from "../io/positional_reader.ts";
import { StoreError } from "./errors.ts";
import { type FolderLock, LOCK_FILE, lockFolder } from "./folder_lock.ts";
import { createKeyedMutex } from "./keyed_mutex.ts";
import {
  checkKey,
  type ObjectInfo,
  type ObjectSource,
  type ObjectStore,
  type RefCondition,
  type RefValue,
  type StoredObject,
} from "./object_store.ts";

/** The scratch folder's name. */
export const SCRATCH_DIR = ".tmp";

/** Options of {@link openFileObjectStore}. */
export interface FileStoreOptions {
  /** How long to wait for the folder's lock before reporting it held; 500 ms. */
  readonly lockWaitMs?: number;
}

const BLOB = /^blobs\/([0-9a-f]{64})$/;

/** Whether `e` is the OS saying the disk is full or a file-size limit was reached. */
export function isNoSpace(e: unknown): boolean {
  return e instanceof Error &&
    (/\(os error (27|28)\)/.test(e.message) ||
      /ENOSPC|EFBIG/.test(String((e as { code?: string }).code)));
}

/** Rethrows OS errors of a write as store errors with a kind. */
function writeError(e: unknown, what: string): never {
  if (e instanceof StoreError) throw e;
  if (e instanceof Deno.errors.NotADirectory || e instanceof Deno.errors.AlreadyExists) {
    throw new StoreError(
      "path_conflict",
      `cannot write ${what}: the store holds a file where a folder is expected`,
      { cause: e },
    );
  }
  if (isNoSpace(e)) {
    throw new StoreError("no_space", `cannot write ${what}: ${(e as Error).message}`, { cause: e });
  }
  throw e;
}

const missing = (e: unknown) =>
  e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory;

async function fsyncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the file itself is already durable.
  }
}

async function fsyncFile(path: string): Promise<void> {
  const f = await Deno.open(path, { read: true, write: true });
  try {
    await f.sync();
  } finally {
    f.close();
  }
}

const etagOf = (bytes: Uint8Array) => `"${createHash("sha256").update(bytes).digest("hex")}"`;

/**
 * Opens (creating it if needed) the store in folder `root`: takes the folder's lock (throws
 * `store_locked` when another process has it), then empties the scratch folder.
 *
 * @example
 * ```ts
 * const store = await openFileObjectStore("./models");
 * await store.putObject("blobs/" + sha, { bytes });
 * await store.close();
 * ```
 */
export async function openFileObjectStore(
  root: string,
  options: FileStoreOptions = {},
): Promise<ObjectStore> {
  root = root.replace(/\/+$/, "") || "/";
  try {
    await Deno.mkdir(root, { recursive: true });
  } catch (e) {
    writeError(e, root);
  }
  const lock: FolderLock = await lockFolder(root, options.lockWaitMs);
  const scratch = `${root}/${SCRATCH_DIR}`;
  try {
    // No live process can own anything here: every entry is left by a process that died.
    await Deno.remove(scratch, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    await Deno.mkdir(scratch, { recursive: true });
  } catch (e) {
    lock.release();
    writeError(e, scratch);
  }
  const mutex = createKeyedMutex();
  const tmpPath = (what: string) => `${scratch}/${what}-${crypto.randomUUID()}`;
  // Refs as last read or written; a write in progress bumps the key's version first, so a read
  // that started before it cannot store what it read after the write.
  const refCache = new Map<string, RefValue | null>();
  const refVersions = new Map<string, number>();
  const refChanging = (key: string) => {
    refVersions.set(key, (refVersions.get(key) ?? 0) + 1);
    refCache.delete(key);
  };
  const refChanged = (key: string, value: RefValue | null) => {
    refVersions.set(key, (refVersions.get(key) ?? 0) + 1);
    refCache.set(key, value);
  };

  const pathOf = (key: string): string => {
    checkKey(key);
    const blob = BLOB.exec(key);
    return blob ? `${root}/blobs/${blob[1].slice(0, 2)}/${blob[1]}` : `${root}/${key}`;
  };
  const keyOf = (rel: string): string => {
    const m = /^blobs\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(rel);
    return m ? `blobs/${m[1]}` : rel;
  };
  const parentOf = (path: string) => path.slice(0, path.lastIndexOf("/"));

  async function makeParent(path: string, what: string): Promise<void> {
    try {
      await Deno.mkdir(parentOf(path), { recursive: true });
    } catch (e) {
      writeError(e, what);
    }
  }

  async function readIfAny(path: string): Promise<Uint8Array | null> {
    try {
      return await Deno.readFile(path);
    } catch (e) {
      if (missing(e)) return null;
      if (e instanceof Deno.errors.IsADirectory) {
        throw new StoreError("path_conflict", `the store holds a folder at ${path}`);
      }
      throw e;
    }
  }

  async function stage(source: ObjectSource, what: string): Promise<string> {
    if ("file" in source) {
      await fsyncFile(source.file);
      return source.file;
    }
    const tmp = tmpPath("object");
    try {
      await Deno.writeFile(tmp, source.bytes);
      await fsyncFile(tmp);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      writeError(e, what);
    }
    return tmp;
  }

  const store: ObjectStore = {
    url: `file:${root}`,
    scratchDir: scratch,

    async putObject(key, source) {
      const path = pathOf(key);
      const staged = await stage(source, key).catch(async (e) => {
        if ("file" in source) await Deno.remove(source.file).catch(() => {});
        throw e;
      });
      try {
        await makeParent(path, key);
        try {
          await Deno.link(staged, path);
        } catch (e) {
          if (e instanceof Deno.errors.AlreadyExists) return false;
          writeError(e, key);
        }
        await fsyncDir(parentOf(path));
        return true;
      } finally {
        await Deno.remove(staged).catch(() => {});
      }
    },

    async getObject(key, maxBytes) {
      const path = pathOf(key);
      const info = await store.statObject(key);
      if (!info) return null;
      if (info.size > maxBytes) {
        throw new Error(`object ${key} is ${info.size} bytes, more than the ${maxBytes} expected`);
      }
      return await readIfAny(path);
    },

    async openObject(key) {
      const path = pathOf(key);
      try {
        const r = await openPositionalReader(path);
        return {
          key,
          size: r.size,
          readAt: (offset, length) => r.readAt(offset, length),
          readInto: (offset, target) => r.readInto!(offset, target),
          // Decode workers read a container's chunks at this path themselves (see LocalFile).
          file: { path: r.path, size: r.size, ino: r.ino },
          close: () => r.close(),
        } satisfies StoredObject;
      } catch (e) {
        if (missing(e) || (e as { code?: string }).code === "ENOENT") return null;
        if ((e as { code?: string }).code === "ENOTDIR") return null;
        throw e;
      }
    },

    async statObject(key) {
      try {
        const s = await Deno.stat(pathOf(key));
        if (!s.isFile) return null;
        return { key, size: s.size, modifiedMs: s.mtime?.getTime() ?? 0 };
      } catch (e) {
        if (missing(e)) return null;
        throw e;
      }
    },

    async deleteObject(key) {
      const path = pathOf(key);
      try {
        await Deno.remove(path);
      } catch (e) {
        if (missing(e)) return;
        throw e;
      }
      await fsyncDir(parentOf(path));
    },

    async *list(prefix) {
      // Walk from the deepest folder the prefix names whole.
      const slash = prefix.lastIndexOf("/");
      const start = slash < 0 ? "" : prefix.slice(0, slash);
      if (start !== "") checkKey(start);
      const stack = [start];
      while (stack.length > 0) {
        const rel = stack.pop()!;
        const dir = rel === "" ? root : `${root}/${rel}`;
        let entries: Deno.DirEntry[];
        try {
          entries = await Array.fromAsync(Deno.readDir(dir));
        } catch (e) {
          if (missing(e)) continue;
          throw e;
        }
        for (const e of entries) {
          if (rel === "" && (e.name === SCRATCH_DIR || e.name === LOCK_FILE)) continue;
          const child = rel === "" ? e.name : `${rel}/${e.name}`;
          if (e.isDirectory) {
            if (child.startsWith(prefix) || prefix.startsWith(`${child}/`)) stack.push(child);
            continue;
          }
          if (!e.isFile) continue;
          const key = keyOf(child);
          if (!key.startsWith(prefix)) continue;
          const s = await Deno.stat(`${dir}/${e.name}`).catch(() => null);
          if (s) yield { key, size: s.size, modifiedMs: s.mtime?.getTime() ?? 0 } as ObjectInfo;
        }
      }
    },

    async getRef(key) {
      const cached = refCache.get(key);
      if (cached !== undefined) return cached;
      const version = refVersions.get(key) ?? 0;
      const bytes = await readIfAny(pathOf(key));
      const value = bytes ? { bytes, etag: etagOf(bytes) } satisfies RefValue : null;
      if ((refVersions.get(key) ?? 0) === version) refCache.set(key, value);
      return value;
    },

    putRef(key, bytes, condition: RefCondition) {
      const path = pathOf(key);
      return mutex.run(`ref:${key}`, async () => {
        const current = await readIfAny(path);
        const ok = "ifMatch" in condition
          ? current !== null && etagOf(current) === condition.ifMatch
          : current === null;
        if (!ok) {
          throw new StoreError("ref_conflict", `ref ${key} changed since it was read`);
        }
        const tmp = tmpPath("ref");
        refChanging(key);
        try {
          await Deno.writeFile(tmp, bytes);
          await fsyncFile(tmp);
          await makeParent(path, key);
          await Deno.rename(tmp, path);
        } catch (e) {
          await Deno.remove(tmp).catch(() => {});
          writeError(e, key);
        }
        const etag = etagOf(bytes);
        refChanged(key, { bytes: bytes.slice(), etag });
        await fsyncDir(parentOf(path));
        return etag;
      });
    },

    deleteRef(key, etag) {
      const path = pathOf(key);
      return mutex.run(`ref:${key}`, async () => {
        const current = await readIfAny(path);
        if (current === null || etagOf(current) !== etag) {
          throw new StoreError("ref_conflict", `ref ${key} changed since it was read`);
        }
        refChanging(key);
        await Deno.remove(path);
        refChanged(key, null);
        await fsyncDir(parentOf(path));
      });
    },

    close() {
      lock.release();
      return Promise.resolve();
    },
  };
  return store;
}
