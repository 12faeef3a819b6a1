/**
 * Reads the Prometheus text exposition format (version 0.0.4) that `/metrics` serves: samples by
 * metric name and labels. The status page polls `/metrics` and computes rates from two readings,
 * so the server needs no second, JSON, form of the same figures. Browser-safe.
 * @module
 */

/** One sample: its labels and value. */
export interface Sample {
  /** Label names to values. */
  readonly labels: Readonly<Record<string, string>>;
  /** The value (`NaN`, `+Inf` and `-Inf` included). */
  readonly value: number;
}

/** Samples by metric name, in the order they appear. */
export type Exposition = ReadonlyMap<string, readonly Sample[]>;

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
}

function parseValue(v: string): number {
  if (v === "+Inf" || v === "Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  if (v === "NaN") return NaN;
  return Number(v);
}

/**
 * Parses exposition text; comment lines are skipped, and a malformed line is an error naming it.
 *
 * @example
 * ```ts
 * const m = parseExposition('x_total{route="/a"} 3\n');
 * m.get("x_total")![0].value; // 3
 * ```
 */
export function parseExposition(text: string): Exposition {
  const out = new Map<string, Sample[]>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) throw new SyntaxError(`metrics line ${i + 1} is not a sample: ${line.slice(0, 80)}`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined && m[2].trim() !== "") {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < m[2].length) {
        const at = LABEL.lastIndex;
        const l = LABEL.exec(m[2]);
        if (!l || LABEL.lastIndex === at) {
          throw new SyntaxError(`metrics line ${i + 1} has malformed labels: ${m[2].slice(0, 80)}`);
        }
        labels[l[1]] = unescape(l[2]);
      }
    }
    const value = parseValue(m[3]);
    if (Number.isNaN(value) && m[3] !== "NaN") {
      throw new SyntaxError(`metrics line ${i + 1} has no numeric value: ${m[3]}`);
    }
    const list = out.get(m[1]);
    if (list) list.push({ labels, value });
    else out.set(m[1], [{ labels, value }]);
  }
  return out;
}

/**
 * The sum of `name`'s samples whose labels include `where` (0 when there are none).
 *
 * @example
 * ```ts
 * total(parseExposition(text), "tessera_http_requests_total"); // every request
 * ```
 */
export function total(
  m: Exposition,
  name: string,
  where: Readonly<Record<string, string>> = {},
): number {
  let sum = 0;
  for (const s of m.get(name) ?? []) {
    let ok = true;
    for (const k in where) if (s.labels[k] !== where[k]) ok = false;
    if (ok) sum += s.value;
  }
  return sum;
}

/** The figures the status page charts, read from one exposition. */
export interface ServerFigures {
  /** Requests answered since start. */
  readonly requests: number;
  /** Response body bytes sent since start. */
  readonly bytesOut: number;
  /** Decoded-chunk cache hits and misses since start. */
  readonly cacheHits: number;
  /** Cache misses. */
  readonly cacheMisses: number;
  /** Raw bytes decoded since start. */
  readonly decodeBytes: number;
  /** Seconds spent decoding, summed over threads. */
  readonly decodeSeconds: number;
  /** Requests in progress. */
  readonly inFlight: number;
  /** Bytes held by the cache, and its budget. */
  readonly cacheBytes: number;
  /** The cache's budget. */
  readonly cacheBudget: number;
}

/** The status page's figures from an exposition of `/metrics`. */
export function serverFigures(m: Exposition): ServerFigures {
  return {
    requests: total(m, "tessera_http_requests_total"),
    bytesOut: total(m, "tessera_http_response_bytes_total"),
    cacheHits: total(m, "tessera_cache_hits_total"),
    cacheMisses: total(m, "tessera_cache_misses_total"),
    decodeBytes: total(m, "tessera_decode_bytes_total"),
    decodeSeconds: total(m, "tessera_decode_seconds_total"),
    inFlight: total(m, "tessera_http_requests_in_flight"),
    cacheBytes: total(m, "tessera_cache_bytes"),
    cacheBudget: total(m, "tessera_cache_budget_bytes"),
  };
}

/** Rates between two readings `seconds` apart: what the status page plots. */
export interface Rates {
  /** Requests per second. */
  readonly requestsPerSecond: number;
  /** Response bytes per second. */
  readonly bytesOutPerSecond: number;
  /** Hits over lookups in the interval; null when there was no lookup. */
  readonly cacheHitRatio: number | null;
  /** Raw bytes decoded per second of wall time (all threads together). */
  readonly decodeBytesPerSecond: number;
}

/**
 * The rates between readings `a` and `b` taken `seconds` apart. A counter that went down (the
 * server restarted) counts from zero.
 */
export function ratesBetween(a: ServerFigures, b: ServerFigures, seconds: number): Rates {
  const d = (k: keyof ServerFigures) => (b[k] >= a[k] ? b[k] - a[k] : b[k]);
  const s = seconds > 0 ? seconds : 1;
  const hits = d("cacheHits"), lookups = hits + d("cacheMisses");
  return {
    requestsPerSecond: d("requests") / s,
    bytesOutPerSecond: d("bytesOut") / s,
    cacheHitRatio: lookups > 0 ? hits / lookups : null,
    decodeBytesPerSecond: d("decodeBytes") / s,
  };
}
