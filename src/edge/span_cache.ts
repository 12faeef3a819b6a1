/**
 * The edge's disk tier: verified container segments and whole raw objects, as files named by
 * content (`<dir>/<sha[0:2]>/<sha>/<offset>-<length>`, `<dir>/<sha[0:2]>/<sha>/raw`), so they are
 * never stale and survive restarts. The total is kept within a byte budget by evicting the least
 * recently used entry first; the index of what is held lives in memory and is rebuilt from the
 * folder at start (most recently written first). Writes go to a temporary file and are renamed
 * into place, so a crash leaves either the whole entry or none (and temporary files the next
 * start removes); a file whose size is not the one its name says is dropped.
 *
 * Reads of a segment into a caller's buffer ({@link SpanCache.readInto}) are positional reads of a
 * descriptor kept open (the most recently used {@link OPEN_FILES}), so a warm read costs one
 * `pread` and no fresh memory: `Deno.readFile` per read (open, fstat, read into a new buffer,
 * close) cost a warm edge about a third of its CPU time per whole-file GET. A descriptor is closed
 * when its entry is replaced or evicted (once no read is using it), so a refetched segment is
 * read from its new file.
 *
 * LRU rather than a frequency-aware policy: a model is read layer by layer, so what was read last
 * is what the next load of the same model reads first, and a scan of one large model should push
 * out older models, not be refused.
 * @module
 */

import fs from "node:fs";

/** Descriptors of entries kept open for {@link SpanCache.readInto}. */
export const OPEN_FILES = 256;

/** Counters of the disk tier. */
export interface SpanCacheFigures {
  /** Lookups found on disk. */
  readonly hits: number;
  /** Bytes read from disk. */
  readonly hitBytes: number;
  /** Entries written. */
  readonly writes: number;
  /** Bytes written. */
  readonly writeBytes: number;
  /** Entries evicted for room. */
  readonly evictions: number;
  /** Bytes evicted. */
  readonly evictedBytes: number;
  /** Bytes held. */
  readonly bytes: number;
  /** Entries held. */
  readonly entries: number;
  /** The budget. */
  readonly budget: number;
}

/** The disk tier. */
export interface SpanCache {
  /** Whether the entry is held (no I/O). */
  has(name: string): boolean;
  /** The bytes of entry `name`, or null when it is not held (or vanished). */
  get(name: string): Promise<Uint8Array | null>;
  /**
   * Fills `target` with the bytes of entry `name` from `position`, marking it used; false when the
   * entry is not held (or vanished). Throws when the file is shorter than the entry says.
   */
  readInto(name: string, position: number, target: Uint8Array): Promise<boolean>;
  /** The path of entry `name` for positional reads, marking it used; null when not held. */
  path(name: string): string | null;
  /** Stores `bytes` as entry `name` (an entry larger than the budget is not kept). */
  put(name: string, bytes: Uint8Array): Promise<void>;
  /** Takes over file `file` (in the cache's folder) as entry `name` of `size` bytes. */
  adopt(name: string, file: string, size: number): Promise<void>;
  /** A fresh temporary path inside the cache's folder (same file system, for renames). */
  tempPath(): string;
  /** Current figures. */
  figures(): SpanCacheFigures;
  /**
   * Closes the descriptors kept open (one a read is using closes when that read ends) and waits
   * for the writes under way, so that whoever takes the folder over next finds every entry
   * placed and counted. A read after this still works, but keeps no descriptor open; a write
   * after this is refused (its temporary file removed).
   */
  close(): Promise<void>;
}

/** Name of segment `[offset, offset + length)` of container `sha256`. */
export function segmentName(sha256: string, offset: number, length: number): string {
  return `${sha256.slice(0, 2)}/${sha256}/${offset}-${length}`;
}

/** Name of the whole raw object `sha256`. */
export function rawName(sha256: string): string {
  return `${sha256.slice(0, 2)}/${sha256}/raw`;
}

/** A descriptor kept open, and the reads using it. */
interface OpenFile {
  readonly fd: Promise<number>;
  users: number;
  /** Out of the table: closed when the last read using it ends. */
  dropped: boolean;
}

const NAME = /^[0-9a-f]{2}\/[0-9a-f]{64}\/(?:(\d+)-(\d+)|raw)$/;

/**
 * Opens (creating) the cache in `dir` with `budgetBytes`.
 *
 * @example
 * ```ts ignore
 * const cache = await openSpanCache("/var/cache/tessera/spans", 10 << 30);
 * await cache.put(segmentName(sha, 0, bytes.length), bytes);
 * ```
 */
export async function openSpanCache(dir: string, budgetBytes: number): Promise<SpanCache> {
  const tmp = `${dir}/.tmp`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  // Least recently used first (a Map keeps insertion order; a use re-inserts).
  const entries = new Map<string, number>();
  let bytes = 0, hits = 0, hitBytes = 0, writes = 0, writeBytes = 0, evictions = 0;
  let evictedBytes = 0;

  const found: { name: string; size: number; mtime: number }[] = [];
  for await (const a of Deno.readDir(dir)) {
    if (!a.isDirectory || !/^[0-9a-f]{2}$/.test(a.name)) continue;
    for await (const b of Deno.readDir(`${dir}/${a.name}`)) {
      if (!b.isDirectory) continue;
      for await (const f of Deno.readDir(`${dir}/${a.name}/${b.name}`)) {
        const name = `${a.name}/${b.name}/${f.name}`;
        const m = NAME.exec(name);
        const st = await Deno.stat(`${dir}/${name}`).catch(() => null);
        if (!m || !st?.isFile || (m[2] !== undefined && st.size !== Number(m[2]))) {
          await Deno.remove(`${dir}/${name}`).catch(() => {});
          continue;
        }
        found.push({ name, size: st.size, mtime: st.mtime?.getTime() ?? 0 });
      }
    }
  }
  found.sort((x, y) => x.mtime - y.mtime);
  for (const f of found) entries.set(f.name, f.size), bytes += f.size;

  const touch = (name: string) => {
    const size = entries.get(name);
    if (size === undefined) return false;
    entries.delete(name);
    entries.set(name, size);
    return true;
  };
  // Open descriptors by entry, least recently used first; one is closed once no read holds it.
  const files = new Map<string, OpenFile>();
  const shut = (f: OpenFile) => f.fd.then((fd) => fs.close(fd, () => {}), () => {});
  const release = (f: OpenFile) => {
    if (--f.users === 0 && f.dropped) shut(f);
  };
  const drop = (name: string) => {
    const f = files.get(name);
    if (!f) return;
    files.delete(name);
    f.dropped = true;
    if (f.users === 0) shut(f);
  };
  // Which placement of each name is on disk: a read that fails on a file since replaced must not
  // forget (or close the descriptor of) the new one, whose bytes would then go uncounted.
  const placed = new Map<string, number>();
  let placements = 0;
  /** Forgets `name` after a read found its file gone, unless it was placed again meanwhile. */
  const forgetGone = (name: string, placement: number | undefined) => {
    if (placed.get(name) !== placement) return;
    const size = entries.get(name);
    if (size !== undefined) entries.delete(name), bytes -= size;
  };
  let closed = false;
  const openFile = (name: string): OpenFile => {
    let f = files.get(name);
    if (f) {
      files.delete(name);
      files.set(name, f);
      return f;
    }
    const fd = new Promise<number>((resolve, reject) =>
      fs.open(`${dir}/${name}`, "r", (err, fd) => err ? reject(err) : resolve(fd))
    );
    fd.catch(() => {});
    // Once closed, a descriptor is the read's own: out of the table, shut when the read ends.
    f = { fd, users: 0, dropped: closed };
    if (closed) return f;
    files.set(name, f);
    if (files.size > OPEN_FILES) drop(files.keys().next().value!);
    return f;
  };
  const evictFor = async (need: number) => {
    while (bytes + need > budgetBytes && entries.size > 0) {
      const [name, size] = entries.entries().next().value!;
      drop(name);
      entries.delete(name);
      placed.delete(name);
      bytes -= size;
      evictions++;
      evictedBytes += size;
      await Deno.remove(`${dir}/${name}`).catch(() => {});
    }
  };
  // Placements run one at a time, so concurrent ones cannot both count the same free room.
  let chain: Promise<unknown> = Promise.resolve();
  const place = (name: string, file: string, size: number): Promise<void> => {
    const run = chain.then(() => placeNow(name, file, size));
    chain = run.catch(() => {});
    return run;
  };
  const placeNow = async (name: string, file: string, size: number) => {
    if (!NAME.test(name)) throw new Error(`not a span cache name: ${name}`);
    if (size > budgetBytes) {
      await Deno.remove(file).catch(() => {});
      return;
    }
    await evictFor(size);
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.rename(file, path);
    drop(name); // a descriptor of the file it replaced
    placed.set(name, ++placements);
    if (!entries.has(name)) bytes += size;
    entries.delete(name);
    entries.set(name, size);
    writes++;
    writeBytes += size;
  };
  // Writes under way, which close() waits for: the edge releases its folder lock after close(),
  // and a write landing after that would be an entry the next owner's budget never counted.
  const writing = new Set<Promise<void>>();
  const tracked = (run: () => Promise<void>, file?: string): Promise<void> => {
    if (closed) {
      const refuse = () => Promise.reject(new Error("span cache is closed"));
      return file === undefined ? refuse() : Deno.remove(file).catch(() => {}).then(refuse);
    }
    const p = run().finally(() => writing.delete(p));
    writing.add(p);
    return p;
  };
  let serial = 0;
  const tempPath = () => `${tmp}/${Date.now()}-${++serial}-${crypto.randomUUID()}`;

  return {
    has: (name) => entries.has(name),
    async get(name) {
      if (!touch(name)) return null;
      const placement = placed.get(name);
      try {
        const b = await Deno.readFile(`${dir}/${name}`);
        hits++;
        hitBytes += b.length;
        return b;
      } catch {
        // Gone from under us (removed by hand): forget it.
        forgetGone(name, placement);
        return null;
      }
    },
    async readInto(name, position, target) {
      if (!touch(name)) return false;
      const placement = placed.get(name);
      const f = openFile(name);
      f.users++;
      try {
        const fd = await f.fd;
        for (let filled = 0; filled < target.length;) {
          const n = await new Promise<number>((resolve, reject) =>
            fs.read(
              fd,
              target,
              filled,
              target.length - filled,
              position + filled,
              (err, n) => err ? reject(err) : resolve(n),
            )
          );
          if (n === 0) {
            throw new Error(
              `span cache: ${name} is shorter than its name says: no byte at ${position + filled}`,
            );
          }
          filled += n;
        }
      } catch (e) {
        if (files.get(name) === f) drop(name);
        if ((e as { code?: string }).code !== "ENOENT") throw e;
        // Gone from under us (removed by hand): forget it.
        forgetGone(name, placement);
        return false;
      } finally {
        release(f);
      }
      hits++;
      hitBytes += target.length;
      return true;
    },
    path(name) {
      if (!touch(name)) return null;
      hits++;
      return `${dir}/${name}`;
    },
    put: (name, data) =>
      tracked(async () => {
        const file = tempPath();
        try {
          await Deno.writeFile(file, data);
        } catch (e) {
          // A full disk: the part written would stay until the next start.
          await Deno.remove(file).catch(() => {});
          throw e;
        }
        await place(name, file, data.length);
      }),
    adopt: (name, file, size) => tracked(() => place(name, file, size), file),
    tempPath,
    figures: () => ({
      hits,
      hitBytes,
      writes,
      writeBytes,
      evictions,
      evictedBytes,
      bytes,
      entries: entries.size,
      budget: budgetBytes,
    }),
    async close() {
      closed = true;
      for (const name of [...files.keys()]) drop(name);
      await Promise.allSettled(writing);
    },
  };
}
