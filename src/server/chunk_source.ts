/**
 * Decoded, verified chunks for the server: from the cache when present, else read from the
 * leased file and decoded by the pool. Concurrent requests for one chunk share one decode.
 * @module
 */
import { chunkFailure } from "../container/errors.ts";
import { losslessOf, type TensorEntry } from "../container/index_schema.ts";
import type { ContainerLease } from "../store/container_leases.ts";
import type { ChunkCache } from "./chunk_cache.ts";
import type { DecodePool } from "./decode_pool.ts";

/** Produces decoded chunks. */
export interface ChunkSource {
  /**
   * The raw bytes of chunk `i` of tensor `t` in the leased container, verified against the chunk's
   * checksum. Rejects with a `chunk_corrupt` ContainerError rather than return wrong bytes.
   * The returned bytes are shared: callers must not modify them.
   */
  get(lease: ContainerLease, t: TensorEntry, i: number): Promise<Uint8Array>;
  /** The cache behind the source, shared with caches of assembled bytes. */
  readonly cache: ChunkCache;
}

/**
 * A chunk source over `cache` and `pool`.
 *
 * @example
 * ```ts
 * const chunks = createChunkSource(createChunkCache(256 << 20), await createDecodePool(0));
 * const raw = await chunks.get(lease, lease.container.index.tensors[0], 0);
 * ```
 */
export function createChunkSource(cache: ChunkCache, pool: DecodePool): ChunkSource {
  const inflight = new Map<string, Promise<Uint8Array>>();
  return {
    cache,
    get(lease, t, i) {
      const key = `${lease.identity}\0${t.name}\0${i}`;
      const hit = cache.get(key);
      if (hit) return Promise.resolve(hit);
      const running = inflight.get(key);
      if (running) return running;
      const p = (async () => {
        const lossless = losslessOf(t);
        const [offset, storedLength, rawLength, storedXxh32, rawXxh32] = lossless.chunks[i];
        const stored = await lease.reader.readAt(offset, storedLength);
        try {
          const raw = await pool.decode(
            stored,
            { storedLength, rawLength, storedXxh32, rawXxh32 },
            lossless.layout,
          );
          cache.set(key, raw);
          return raw;
        } catch (e) {
          throw chunkFailure(t.name, i, offset, e);
        }
      })();
      inflight.set(key, p);
      p.finally(() => inflight.delete(key)).catch(() => {});
      return p;
    },
  };
}
