/**
 * A least-recently-used cache of decoded chunks with a byte budget. Keys name a chunk of an exact
 * container file (path, inode, size, mtime), so a replaced file never serves stale bytes.
 * @module
 */
import type { CacheFigures } from "./metrics.ts";

/** The cache. */
export interface ChunkCache {
  /** The bytes for `key`, counting a hit or a miss; marks the entry most recently used. */
  get(key: string): Uint8Array | undefined;
  /** Stores `bytes`, evicting least recently used entries; entries over the budget are skipped. */
  set(key: string, bytes: Uint8Array): void;
  /** Current figures. */
  figures(): CacheFigures;
}

/**
 * Creates a cache holding at most `budgetBytes`.
 *
 * @example
 * ```ts
 * const cache = createChunkCache(256 << 20);
 * cache.set("a", new Uint8Array(10));
 * cache.get("a"); // Uint8Array(10)
 * ```
 */
export function createChunkCache(budgetBytes: number): ChunkCache {
  // A Map iterates in insertion order: re-inserting on use keeps the oldest entry first.
  const map = new Map<string, Uint8Array>();
  let bytes = 0, hits = 0, misses = 0, evictions = 0;
  return {
    get(key) {
      const v = map.get(key);
      if (v === undefined) {
        misses++;
        return undefined;
      }
      hits++;
      map.delete(key);
      map.set(key, v);
      return v;
    },
    set(key, value) {
      if (value.length > budgetBytes) return;
      const old = map.get(key);
      if (old) {
        bytes -= old.length;
        map.delete(key);
      }
      while (bytes + value.length > budgetBytes) {
        const [k, v] = map.entries().next().value!;
        map.delete(k);
        bytes -= v.length;
        evictions++;
      }
      map.set(key, value);
      bytes += value.length;
    },
    figures: () => ({ hits, misses, evictions, bytes, entries: map.size, budget: budgetBytes }),
  };
}
