/**
 * Serves a representation's bytes through a cache of its aligned 1 MiB blocks. A full-file GET of
 * a cached model then costs one `subarray` per MiB instead of assembling tiles again, which is
 * what keeps the virtual `model.safetensors` close to a static file server's throughput.
 * @module
 */
import type { ChunkCache } from "./chunk_cache.ts";

/** Block size: large enough that per-block costs vanish, small enough to cache piecemeal. */
export const BLOCK_BYTES = 1 << 20;

/** Reads bytes `[start, end)` of a representation. */
export type ReadRange = (
  start: number,
  end: number,
  signal: AbortSignal,
) => AsyncIterable<Uint8Array>;

/**
 * Wraps `read` (a representation of `size` bytes, identified by `key`) so that whole blocks it
 * produces are kept in `cache`, and later reads take cached blocks as they are. Bytes are produced
 * once and copied once into their block; a read that starts mid-block caches from the next block.
 * Only blocks that end within the first `limit` bytes are cached (all of them by default): the
 * rest is always read from `read`, without looking it up.
 */
export function cachedRead(
  read: ReadRange,
  cache: ChunkCache,
  key: string,
  size: number,
  limit = size,
): ReadRange {
  const cachedEnd = cachedEndOf(size, limit);
  return async function* (start, end, signal) {
    let pos = start;
    while (pos < end) {
      if (pos >= cachedEnd) return yield* read(pos, end, signal);
      const index = Math.floor(pos / BLOCK_BYTES), blockStart = index * BLOCK_BYTES;
      const hit = cache.get(blockKey(key, index));
      if (hit) {
        const to = Math.min(end, blockStart + hit.length);
        yield hit.subarray(pos - blockStart, to - blockStart);
        pos = to;
        continue;
      }
      // A miss streams the rest with the producer's own read-ahead, filling blocks on the way.
      let block: Uint8Array | null = null, blockAt = 0, fill = 0, at = pos;
      for await (const part of read(pos, end, signal)) {
        yield part;
        for (let off = 0; off < part.length;) {
          if (block === null) {
            if (at >= cachedEnd) break; // past the cached part: the rest is only passed on
            if (at % BLOCK_BYTES !== 0) {
              // Inside a block that began before this read: skip to the next boundary.
              const skip = Math.min(part.length - off, BLOCK_BYTES - (at % BLOCK_BYTES));
              off += skip, at += skip;
              continue;
            }
            blockAt = at;
            block = new Uint8Array(Math.min(BLOCK_BYTES, size - at));
            fill = 0;
          }
          const n = Math.min(part.length - off, block.length - fill);
          block.set(part.subarray(off, off + n), fill);
          fill += n, off += n, at += n;
          if (fill === block.length) {
            cache.set(blockKey(key, blockAt / BLOCK_BYTES), block);
            block = null;
          }
        }
      }
      pos = end;
    }
  };
}

/** The cache key of block `index` of the representation cached under `key`. */
function blockKey(key: string, index: number): string {
  return `${key}\0${index}`;
}

/** Where caching stops: the end of the last whole block within `limit` (or the file's end). */
function cachedEndOf(size: number, limit: number): number {
  return limit >= size ? size : Math.floor(limit / BLOCK_BYTES) * BLOCK_BYTES;
}

/**
 * The bytes `[start, min(end, the cached part's end))` of a representation that {@link cachedRead}
 * caches under `key` (same `size` and `limit`), as views of the cached blocks, when all of them
 * are held; null at the first block missing (one miss counted), for a caller that then reads the
 * way that fills the cache. `end` in the result is where the views stop: the rest is not cached.
 */
export function cachedPrefix(
  cache: ChunkCache,
  key: string,
  size: number,
  limit: number,
  start: number,
  end: number,
): { readonly parts: Uint8Array[]; readonly end: number } | null {
  const stop = Math.max(start, Math.min(end, cachedEndOf(size, limit)));
  const parts: Uint8Array[] = [];
  for (let pos = start; pos < stop;) {
    const index = Math.floor(pos / BLOCK_BYTES), blockStart = index * BLOCK_BYTES;
    const hit = cache.get(blockKey(key, index));
    if (!hit) return null;
    const to = Math.min(stop, blockStart + hit.length);
    parts.push(hit.subarray(pos - blockStart, to - blockStart));
    pos = to;
  }
  return { parts, end: stop };
}
