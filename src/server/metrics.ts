/**
 * Server metrics in the Prometheus text format (version 0.0.4): requests by route and status,
 * bytes sent, decode throughput and the decoded-chunk cache.
 * @module
 */

/** Cache figures reported by the chunk cache. */
export interface CacheFigures {
  /** Lookups answered from the cache. */
  readonly hits: number;
  /** Lookups that had to decode. */
  readonly misses: number;
  /** Entries evicted for room. */
  readonly evictions: number;
  /** Bytes held. */
  readonly bytes: number;
  /** Entries held. */
  readonly entries: number;
  /** Byte budget. */
  readonly budget: number;
}

/** A metric family computed at exposition time: its name, help, type and labelled samples. */
export interface Family {
  /** Metric name. */
  readonly name: string;
  /** One line of help. */
  readonly help: string;
  /** `gauge` or `counter`. */
  readonly type: "gauge" | "counter";
  /** Samples: label pairs (unescaped values) and value. */
  readonly rows: readonly {
    readonly labels: Readonly<Record<string, string>>;
    readonly value: number;
  }[];
}

/** The metrics registry. */
export interface Metrics {
  /** Counts one finished request. */
  request(route: string, method: string, status: number, seconds: number): void;
  /** Counts body bytes sent for `route`. */
  bytesOut(route: string, bytes: number): void;
  /** Counts decoded chunks (one block of them): raw bytes, seconds, chunks. */
  decoded(bytes: number, seconds: number, chunks?: number): void;
  /** Counts a response body cut short by an error (never by a client going away). */
  streamFailure(route: string): void;
  /** Adjusts the in-flight request gauge. */
  inFlight(delta: number): void;
  /** The exposition text; `families` are appended (computed by the caller). */
  render(cache: CacheFigures, extra?: Record<string, number>, families?: readonly Family[]): string;
}

const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * Creates an empty registry.
 *
 * @example
 * ```ts
 * const m = createMetrics();
 * m.request("/healthz", "GET", 200, 0.001);
 * console.log(m.render({ hits: 0, misses: 0, evictions: 0, bytes: 0, entries: 0, budget: 0 }));
 * ```
 */
export function createMetrics(): Metrics {
  const requests = new Map<string, number>();
  const bytes = new Map<string, number>();
  const failures = new Map<string, number>();
  const hist = new Map<string, { counts: number[]; sum: number; n: number }>();
  let decodeBytes = 0, decodeSeconds = 0, decodeChunks = 0, inFlight = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  return {
    request(route, method, status, seconds) {
      add(requests, `route="${esc(route)}",method="${esc(method)}",status="${status}"`, 1);
      const key = `route="${esc(route)}"`;
      let h = hist.get(key);
      if (!h) hist.set(key, h = { counts: BUCKETS.map(() => 0), sum: 0, n: 0 });
      BUCKETS.forEach((b, i) => {
        if (seconds <= b) h!.counts[i]++;
      });
      h.sum += seconds;
      h.n++;
    },
    bytesOut(route, n) {
      add(bytes, `route="${esc(route)}"`, n);
    },
    decoded(n, seconds, chunks = 1) {
      decodeBytes += n;
      decodeSeconds += seconds;
      decodeChunks += chunks;
    },
    streamFailure(route) {
      add(failures, `route="${esc(route)}"`, 1);
    },
    inFlight(delta) {
      inFlight += delta;
    },
    render(cache, extra = {}, families = []) {
      const out: string[] = [];
      const family = (name: string, type: string, help: string, rows: [string, number][]) => {
        out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
        for (const [labels, v] of rows) out.push(`${name}${labels ? `{${labels}}` : ""} ${v}`);
      };
      family(
        "tessera_http_requests_total",
        "counter",
        "Requests answered, by route, method and status.",
        [...requests],
      );
      family("tessera_http_requests_in_flight", "gauge", "Requests being answered.", [
        ["", inFlight],
      ]);
      family(
        "tessera_http_response_bytes_total",
        "counter",
        "Response body bytes sent, by route.",
        [...bytes],
      );
      family(
        "tessera_http_stream_failures_total",
        "counter",
        "Response bodies cut short by a server-side error (such as a corrupt chunk).",
        [...failures],
      );
      out.push(
        "# HELP tessera_http_request_duration_seconds Time to the response headers, by route.",
        "# TYPE tessera_http_request_duration_seconds histogram",
      );
      for (const [labels, h] of hist) {
        BUCKETS.forEach((b, i) =>
          out.push(
            `tessera_http_request_duration_seconds_bucket{${labels},le="${b}"} ${h.counts[i]}`,
          )
        );
        out.push(`tessera_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.n}`);
        out.push(`tessera_http_request_duration_seconds_sum{${labels}} ${h.sum}`);
        out.push(`tessera_http_request_duration_seconds_count{${labels}} ${h.n}`);
      }
      family("tessera_decode_bytes_total", "counter", "Raw bytes decoded from chunks.", [
        ["", decodeBytes],
      ]);
      family(
        "tessera_decode_seconds_total",
        "counter",
        "Time spent decoding chunks, summed over decoder threads.",
        [["", decodeSeconds]],
      );
      family("tessera_decode_chunks_total", "counter", "Chunks decoded.", [["", decodeChunks]]);
      family(
        "tessera_decode_megabytes_per_second",
        "gauge",
        "Decode throughput per decoder thread since start: decode bytes / decode seconds / 1e6.",
        [["", decodeSeconds > 0 ? decodeBytes / decodeSeconds / 1e6 : 0]],
      );
      family("tessera_cache_hits_total", "counter", "Decoded-chunk cache hits.", [[
        "",
        cache.hits,
      ]]);
      family("tessera_cache_misses_total", "counter", "Decoded-chunk cache misses.", [
        ["", cache.misses],
      ]);
      family("tessera_cache_evictions_total", "counter", "Decoded chunks evicted.", [
        ["", cache.evictions],
      ]);
      family("tessera_cache_bytes", "gauge", "Bytes held by the decoded-chunk cache.", [
        ["", cache.bytes],
      ]);
      family("tessera_cache_entries", "gauge", "Chunks held by the cache.", [["", cache.entries]]);
      family("tessera_cache_budget_bytes", "gauge", "Byte budget of the cache.", [
        ["", cache.budget],
      ]);
      const lookups = cache.hits + cache.misses;
      family("tessera_cache_hit_ratio", "gauge", "Hits / (hits + misses) since start.", [
        ["", lookups > 0 ? cache.hits / lookups : 0],
      ]);
      for (const [name, v] of Object.entries(extra)) {
        family(name, "gauge", name.replaceAll("_", " ") + ".", [["", v]]);
      }
      for (const f of families) {
        const rows = f.rows.map((r): [string, number] => [
          Object.entries(r.labels).map(([k, v]) => `${k}="${esc(v)}"`).join(","),
          r.value,
        ]);
        family(f.name, f.type, f.help, rows);
      }
      return out.join("\n") + "\n";
    },
  };
}
