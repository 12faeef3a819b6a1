/**
 * An edge's services: the origin client, the disk tier, the blobs read through the tiers, and the
 * read-only object store the ordinary server runs over; plus its `/metrics` lines. One edge
 * process owns a cache folder (a lock, as for a store folder):
 *
 * ```
 * DIR/.lock
 * DIR/spans/<ab>/<sha256>/<offset>-<length>   verified container segments (the disk tier)
 * DIR/spans/<ab>/<sha256>/raw                 whole raw files, checked by SHA-256
 * DIR/meta/blobs/<ab>/<sha256>.{json,index}   what opening a blob learnt: size, head, index
 * DIR/meta/objects/repos/…                    last refs seen, commits (immutable)
 * ```
 * @module
 */
import type { ServerConfig } from "../server/config.ts";
import { type FolderLock, lockFolder } from "../store/folder_lock.ts";
import { createEdgeBlobs, type EdgeBlobs } from "./edge_blobs.ts";
import { createOriginClient, exchangeLine, type OriginClient } from "./origin_client.ts";
import { openOriginObjectStore, type OriginObjectStore } from "./origin_object_store.ts";
import { openSpanCache, type SpanCache } from "./span_cache.ts";

/** A running edge's services. */
export interface Edge {
  /** The origin. */
  readonly origin: OriginClient;
  /** The disk tier. */
  readonly spans: SpanCache;
  /** Blobs through the tiers. */
  readonly blobs: EdgeBlobs;
  /** The store the server runs over. */
  readonly objects: OriginObjectStore;
  /** Prometheus lines of the tiers and the origin traffic. */
  metrics(): string;
  /**
   * Closes the disk tier's descriptors, waits for its writes under way, and then releases the
   * cache folder.
   */
  close(): Promise<void>;
}

/**
 * Opens the edge that `config` describes (its `origin` is set).
 *
 * @example
 * ```ts ignore
 * const edge = await openEdge(parseServerArgs(["--origin", "http://hub:8080"], {}));
 * const store = await openRepoStore({ store: edge.objects, gcOnOpen: false });
 * ```
 */
export async function openEdge(
  config: ServerConfig,
  log: (line: string) => void = console.log,
): Promise<Edge> {
  const dir = config.cacheDir.replace(/\/+$/, "");
  await Deno.mkdir(dir, { recursive: true });
  const lock: FolderLock = await lockFolder(dir);
  try {
    // With the access log on, each origin exchange is logged with its timings (where a cold
    // request's time goes: bench:edge reads these lines).
    const origin = createOriginClient(config.origin!, {
      timeoutMs: config.originTimeoutMs,
      onExchange: config.quiet ? undefined : (e) => log(exchangeLine(e)),
    });
    const spans = await openSpanCache(`${dir}/spans`, config.diskCacheBytes);
    const blobs = createEdgeBlobs({ origin, spans, metaDir: `${dir}/meta/blobs`, log });
    const objects = await openOriginObjectStore({
      origin,
      blobs,
      metaDir: `${dir}/meta`,
      scratchDir: `${dir}/tmp`,
    });
    return {
      origin,
      spans,
      blobs,
      objects,
      metrics() {
        const s = spans.figures(), b = blobs.figures(), o = origin.figures();
        const r = objects.refFigures();
        const lines: string[] = [];
        const family = (name: string, type: string, help: string, rows: [string, number][]) => {
          lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
          for (const [labels, v] of rows) lines.push(`${name}${labels ? `{${labels}}` : ""} ${v}`);
        };
        family(
          "tessera_edge_tier_hits_total",
          "counter",
          "Reads answered by a tier (ram: decoded blocks, see tessera_cache_hits_total; disk: verified segments).",
          [
            ['tier="disk"', b.diskHits],
            ['tier="origin"', b.originSegments],
          ],
        );
        family("tessera_edge_tier_bytes_total", "counter", "Container bytes read from each tier.", [
          ['tier="disk"', b.diskBytes],
          ['tier="origin"', b.originSegmentBytes],
        ]);
        family("tessera_edge_origin_requests_total", "counter", "Requests sent to the origin.", [
          ["", o.requests],
        ]);
        family(
          "tessera_edge_origin_bytes_total",
          "counter",
          "Body bytes received from the origin.",
          [
            ["", o.bytes],
          ],
        );
        family(
          "tessera_edge_origin_not_modified_total",
          "counter",
          "Revalidations the origin answered 304.",
          [["", o.notModified]],
        );
        family(
          "tessera_edge_origin_failures_total",
          "counter",
          "Origin requests that failed (unreachable, time-out, 5xx).",
          [["", o.failures]],
        );
        family(
          "tessera_edge_singleflight_joined_total",
          "counter",
          "Segment misses that joined a fetch already under way.",
          [["", b.joined]],
        );
        family(
          "tessera_edge_verify_failures_total",
          "counter",
          "Segments from the origin that failed their checksum (never cached or served).",
          [["", b.verifyFailures]],
        );
        family(
          "tessera_edge_prefetch_bytes_total",
          "counter",
          "Bytes prefetched (the next layer).",
          [["", b.prefetchBytes]],
        );
        family("tessera_edge_refs_total", "counter", "Refs lookups, by how they were answered.", [
          ['how="fresh"', r.fresh],
          ['how="revalidated"', r.revalidated],
          ['how="fetched"', r.fetched],
          ['how="stale"', r.stale],
        ]);
        family(
          "tessera_edge_disk_evictions_total",
          "counter",
          "Disk-tier entries evicted for room.",
          [["", s.evictions]],
        );
        family(
          "tessera_edge_disk_evicted_bytes_total",
          "counter",
          "Bytes evicted from the disk tier.",
          [["", s.evictedBytes]],
        );
        family("tessera_edge_disk_bytes", "gauge", "Bytes held by the disk tier.", [["", s.bytes]]);
        family("tessera_edge_disk_entries", "gauge", "Entries held by the disk tier.", [[
          "",
          s.entries,
        ]]);
        family("tessera_edge_disk_budget_bytes", "gauge", "Budget of the disk tier (--cache-gb).", [
          ["", s.budget],
        ]);
        return lines.join("\n") + "\n";
      },
      async close() {
        // The lock goes only once the disk tier's writes under way have landed.
        await spans.close().finally(() => lock.release());
      },
    };
  } catch (e) {
    lock.release();
    throw e;
  }
}
