/**
 * Shared, reference-counted open containers. A request leases a container for as long as its
 * response needs it; the store's containers are content-addressed objects, so a key (the
 * container's SHA-256) always names the same bytes, and an open container never goes stale:
 * its `identity` (`sha256:<hex>`) is a cache key that holds across revisions, repos and restarts.
 * Containers no request holds stay open up to a bound, least recently used first out.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { type Container, openContainer } from "../container/open.ts";
import { openPositionalReader } from "../io/positional_reader.ts";
import type { RandomAccessReader } from "../io/random_access.ts";
import { StoreError } from "./errors.ts";

/** A leased open container. */
export interface ContainerLease {
  /** The open, validated container. */
  readonly container: Container;
  /** The reader behind it. */
  readonly reader: RandomAccessReader;
  /** Names the exact bytes (for the store: `sha256:<hex>`). Cache keys build on it. */
  readonly identity: string;
  /** Values derived from the container (its original header, say), kept while it is open. */
  readonly memo: Map<string, Promise<unknown>>;
  /** Gives the lease back; idempotent. */
  release(): void;
}

/** What an opener returns: a reader over the bytes a key names, and their identity. */
export interface OpenedBytes {
  /** Positional reads over the container's bytes. */
  readonly reader: RandomAccessReader;
  /** Names those bytes for caches. */
  readonly identity: string;
}

/** Opens the bytes a key names, or null when there are none. */
export type ContainerOpener = (key: string) => Promise<OpenedBytes | null>;

/** Leases open containers by key. */
export interface ContainerLeases {
  /** Leases the container `key` names; throws `file_not_found` when there is none. */
  acquire(key: string): Promise<ContainerLease>;
  /** Closes the container `key` names once nothing holds it (its bytes were removed). */
  forget(key: string): void;
  /** Open containers, held or idle. */
  readonly open: number;
  /** Closes every container not in use and refuses new leases; held ones close on release. */
  close(): void;
}

interface Entry {
  readonly key: string;
  readonly container: Container;
  readonly reader: RandomAccessReader;
  readonly identity: string;
  readonly memo: Map<string, Promise<unknown>>;
  refs: number;
  retired: boolean;
}

/** Opens a file path, for callers (tests, tools) that lease files that do not change. */
export const fileOpener: ContainerOpener = async (path) => {
  try {
    const reader = await openPositionalReader(path);
    return {
      reader,
      identity: `${path}|${reader.ino}|${reader.size}|${Math.floor(reader.mtimeMs)}`,
    };
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return null;
    throw e;
  }
};

/**
 * Creates an empty lease table over `open`; at most `maxIdle` containers no one holds stay open.
 *
 * @example
 * ```ts
 * const leases = createContainerLeases();
 * const lease = await leases.acquire("model.tsr");
 * try { console.log(lease.container.index.tensors.length); } finally { lease.release(); }
 * ```
 */
export function createContainerLeases(
  open: ContainerOpener = fileOpener,
  maxIdle = 64,
): ContainerLeases {
  const entries = new Map<string, Entry>();
  const opening = new Map<string, Promise<Entry>>();
  // Idle entries in least-recently-released order (a Map keeps insertion order).
  const idle = new Map<string, Entry>();
  let closed = false;

  const shut = (e: Entry) => {
    idle.delete(e.key);
    if (entries.get(e.key) === e) entries.delete(e.key);
    e.reader.close();
  };

  async function openEntry(key: string): Promise<Entry> {
    const opened = await open(key);
    if (!opened) throw new StoreError("file_not_found", `no container ${key}`);
    try {
      const container = await openContainer(opened.reader, nativeBackends());
      return {
        key,
        container,
        reader: opened.reader,
        identity: opened.identity,
        memo: new Map(),
        refs: 0,
        retired: false,
      };
    } catch (e) {
      opened.reader.close();
      throw e;
    }
  }

  async function entryFor(key: string): Promise<Entry> {
    const cur = entries.get(key);
    if (cur) return cur;
    let pending = opening.get(key);
    if (!pending) {
      pending = openEntry(key);
      opening.set(key, pending);
      pending.finally(() => opening.delete(key)).catch(() => {});
    }
    const e = await pending;
    if (closed) {
      if (e.refs === 0) e.reader.close();
      throw new Error("container leases are closed");
    }
    if (!entries.has(key)) entries.set(key, e);
    return entries.get(key)!;
  }

  return {
    async acquire(key) {
      if (closed) throw new Error("container leases are closed");
      const e = await entryFor(key);
      e.refs++;
      idle.delete(key);
      let released = false;
      return {
        container: e.container,
        reader: e.reader,
        identity: e.identity,
        memo: e.memo,
        release() {
          if (released) return;
          released = true;
          if (--e.refs > 0) return;
          if (e.retired || closed) return shut(e);
          idle.set(key, e);
          if (idle.size > maxIdle) shut(idle.values().next().value!);
        },
      };
    },
    forget(key) {
      const e = entries.get(key);
      if (!e) return;
      entries.delete(key);
      e.retired = true;
      if (e.refs === 0) shut(e);
    },
    get open() {
      return entries.size;
    },
    close() {
      closed = true;
      for (const e of [...entries.values()]) {
        e.retired = true;
        if (e.refs === 0) shut(e);
      }
      entries.clear();
    },
  };
}
