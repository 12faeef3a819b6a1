/**
 * Shared, reference-counted open containers. A request leases the container at a path for as long
 * as its response needs it. When a new file is renamed over the path, the next lease opens the
 * new file, while responses still streaming keep the old descriptor (and so the old file's
 * bytes) until they release it; the old container is closed after its last release.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { type Container, openContainer } from "../container/open.ts";
import { openPositionalReader, type PositionalReader } from "../io/positional_reader.ts";
import { StoreError } from "./errors.ts";

/** A leased open container. */
export interface ContainerLease {
  /** The open, validated container. */
  readonly container: Container;
  /** The reader behind it, with the identity of the file it has open. */
  readonly reader: PositionalReader;
  /** Identifies the exact file: path, inode, size and mtime. Cache keys build on it. */
  readonly identity: string;
  /** Values derived from the file (its original header, say), kept while the file is open. */
  readonly memo: Map<string, Promise<unknown>>;
  /** Gives the lease back; idempotent. */
  release(): void;
}

/** Leases open containers by path. */
export interface ContainerLeases {
  /** Leases the container currently at `path`; throws `file_not_found` when there is none. */
  acquire(path: string): Promise<ContainerLease>;
  /** Open files, including replaced ones still in use. */
  readonly open: number;
  /** Closes every file not in use and refuses new leases; files in use close on release. */
  close(): void;
}

interface Entry {
  readonly container: Container;
  readonly reader: PositionalReader;
  readonly identity: string;
  readonly memo: Map<string, Promise<unknown>>;
  refs: number;
  retired: boolean;
}

const identityOf = (path: string, s: { ino: number | null; size: number; mtimeMs: number }) =>
  `${path}|${s.ino}|${s.size}|${Math.floor(s.mtimeMs)}`;

/**
 * Creates an empty lease table.
 *
 * @example
 * ```ts
 * const leases = createContainerLeases();
 * const lease = await leases.acquire("models/demo/stories260k/main/model.tsr");
 * try { console.log(lease.container.index.tensors.length); } finally { lease.release(); }
 * ```
 */
export function createContainerLeases(): ContainerLeases {
  const current = new Map<string, Entry>();
  const opening = new Map<string, Promise<Entry>>();
  const all = new Set<Entry>();
  let closed = false;

  const maybeClose = (e: Entry) => {
    if (e.retired && e.refs === 0 && all.delete(e)) e.reader.close();
  };
  const retire = (e: Entry) => {
    e.retired = true;
    maybeClose(e);
  };

  async function openEntry(path: string, identity: string): Promise<Entry> {
    const reader = await openPositionalReader(path);
    try {
      const opened = identityOf(path, reader);
      if (opened !== identity) {
        // Replaced between the stat and the open: the caller retries with a fresh stat.
        throw new Retry();
      }
      const container = await openContainer(reader, nativeBackends());
      return { container, reader, identity, memo: new Map(), refs: 0, retired: false };
    } catch (e) {
      reader.close();
      throw e;
    }
  }

  async function statOrNotFound(path: string): Promise<Deno.FileInfo> {
    try {
      const s = await Deno.stat(path);
      if (!s.isFile) throw new Deno.errors.NotFound(path);
      return s;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new StoreError("file_not_found", `no container at ${path}`);
      }
      throw e;
    }
  }

  async function entryFor(path: string): Promise<Entry> {
    for (let attempt = 0;; attempt++) {
      const s = await statOrNotFound(path);
      const identity = identityOf(path, {
        ino: s.ino,
        size: s.size,
        mtimeMs: s.mtime?.getTime() ?? 0,
      });
      const cur = current.get(path);
      if (cur && cur.identity === identity) return cur;
      let pending = opening.get(identity);
      if (!pending) {
        pending = openEntry(path, identity);
        opening.set(identity, pending);
        pending.finally(() => opening.delete(identity)).catch(() => {});
      }
      try {
        const e = await pending;
        if (closed) throw new Error("container leases are closed");
        if (!all.has(e)) {
          all.add(e);
          const old = current.get(path);
          current.set(path, e);
          if (old && old !== e) retire(old);
        }
        return e;
      } catch (err) {
        if (err instanceof Retry && attempt < 5) continue;
        if (err instanceof Retry) throw new Error(`${path} keeps changing while being opened`);
        throw err;
      }
    }
  }

  return {
    async acquire(path) {
      if (closed) throw new Error("container leases are closed");
      const e = await entryFor(path);
      e.refs++;
      let released = false;
      return {
        container: e.container,
        reader: e.reader,
        identity: e.identity,
        memo: e.memo,
        release() {
          if (released) return;
          released = true;
          e.refs--;
          maybeClose(e);
        },
      };
    },
    get open() {
      return all.size;
    },
    close() {
      closed = true;
      for (const e of [...all]) retire(e);
      current.clear();
    },
  };
}

class Retry extends Error {}
