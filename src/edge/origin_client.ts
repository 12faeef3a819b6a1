/**
 * Requests from an edge to its origin: each under a time limit to the response headers and a
 * limit on any stall of its body (no byte, or fewer than {@link TRICKLE_BYTES}, in a stall
 * limit's time), counted (requests and body bytes, for `/metrics`), and failing
 * as one error kind the server answers with `503` and `Retry-After`. After a connection failure
 * the origin counts as down for {@link DOWN_MS}: requests then fail at once instead of each
 * waiting for a time-out, so a client is never kept waiting on an origin known to be gone.
 * @module
 */
import { HttpError } from "../http/http_error.ts";

/** How long an origin that failed to answer is taken as down. */
export const DOWN_MS = 1000;
/**
 * The fewest bytes a body must bring in each stall limit's time (or all it has left): an origin
 * that sends a byte every few seconds never stalls for the whole limit, and would otherwise hold a
 * refs or index read, and the client waiting on it, for ever. 64 KiB per 10 s is 6.5 KB/s, far
 * below any link an edge serves over.
 */
export const TRICKLE_BYTES = 64 << 10;
/** What `Retry-After` tells clients when the origin is unavailable, seconds. */
export const RETRY_AFTER_S = 5;

/** Counters of origin traffic. */
export interface OriginFigures {
  /** Requests sent. */
  readonly requests: number;
  /** Body bytes received. */
  readonly bytes: number;
  /** Answers `304 Not Modified`. */
  readonly notModified: number;
  /** Requests that failed (connection, time-out, 5xx). */
  readonly failures: number;
}

/**
 * One origin exchange, for the log: when the request left, its headers came back, its body's first
 * byte came and its last; epoch milliseconds (`performance.timeOrigin + performance.now()`), so
 * that they line up with other processes' clocks on the same machine.
 */
export interface OriginExchange {
  /** Numbers the edge's origin requests from 1. */
  readonly id: number;
  /** Method and path. */
  readonly what: string;
  /** The `Range` header sent, if any. */
  readonly range: string | null;
  /** Status. */
  readonly status: number;
  /** When the request left. */
  readonly sentAt: number;
  /** When its headers arrived. */
  readonly headersAt: number;
  /** When its first body byte arrived (its body was read), else absent. */
  readonly firstByteAt?: number;
  /** When its body ended (its body was read), else absent. */
  readonly doneAt?: number;
  /** Body bytes read. */
  readonly bytes: number;
}

/** Now, in epoch milliseconds with sub-millisecond precision. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** The log line of exchange `e`: `origin #3 GET /path bytes=0- 206 sent=… headers=+40.1 …`. */
export function exchangeLine(e: OriginExchange): string {
  const rel = (t: number | undefined) => t === undefined ? "-" : `+${(t - e.sentAt).toFixed(1)}`;
  return `origin #${e.id} ${e.what} ${e.range ?? "-"} ${e.status} sent=${e.sentAt.toFixed(1)} ` +
    `headers=${rel(e.headersAt)} first=${rel(e.firstByteAt)} done=${rel(e.doneAt)} ${e.bytes}B`;
}

/** Options of one request. */
export interface OriginRequest {
  /** Request headers. */
  readonly headers?: Record<string, string>;
  /** Aborts it. */
  readonly signal?: AbortSignal;
  /** Method; GET by default. */
  readonly method?: string;
}

/** The origin, as an edge reaches it. */
export interface OriginClient {
  /** Its base URL. */
  readonly base: string;
  /**
   * Sends a request for `path` and resolves with the response once its headers arrived; 5xx,
   * connection failures and time-outs reject with {@link originUnavailable}.
   */
  request(path: string, options?: OriginRequest): Promise<Response>;
  /** Reads the whole body of `res` under the stall limit, counting it. */
  body(res: Response, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * Hands each piece of the body of `res` to `sink` under the stall limit, counting it, and
   * checks it against `Content-Length`; resolves to the bytes read.
   */
  pipe(
    res: Response,
    sink: (piece: Uint8Array) => void | Promise<void>,
    signal?: AbortSignal,
  ): Promise<number>;
  /** Current figures. */
  figures(): OriginFigures;
}

/** The error of an origin that cannot be reached or does not answer in time: 503. */
export function originUnavailable(what: string, cause?: unknown): HttpError {
  return new HttpError(
    503,
    "origin_unavailable",
    `the origin is unavailable (${what}); what this edge holds is still served`,
    { "Retry-After": String(RETRY_AFTER_S) },
    { cause },
  );
}

/**
 * A client for the origin at `base`.
 *
 * @example
 * ```ts ignore
 * const origin = createOriginClient("http://hub:8080", { timeoutMs: 5000 });
 * const res = await origin.request("/v1/store/refs/demo/stories260k");
 * ```
 */
export function createOriginClient(
  base: string,
  options: {
    timeoutMs: number;
    stallMs?: number;
    fetch?: typeof fetch;
    /** Told of each exchange once its body is read, or at its headers when it has none. */
    onExchange?: (e: OriginExchange) => void;
  },
): OriginClient {
  base = base.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const stallMs = options.stallMs ?? Math.max(options.timeoutMs, 10_000);
  let requests = 0, bytes = 0, notModified = 0, failures = 0, downUntil = 0;
  // Exchanges whose body has not been read yet (only kept when they are reported).
  const pending = new WeakMap<Response, OriginExchange>();
  const fail = (what: string, cause?: unknown) => {
    failures++;
    downUntil = Date.now() + DOWN_MS;
    return originUnavailable(what, cause);
  };
  return {
    base,
    async request(path, req = {}) {
      if (Date.now() < downUntil) {
        throw originUnavailable(`it failed less than ${DOWN_MS} ms ago`);
      }
      // The limit is on the headers only: a signal that fired later would cut the body too (a
      // container streamed from byte 0 takes longer than it), whose stalls `pipe` limits.
      const timeout = new AbortController();
      const timer = setTimeout(
        () => timeout.abort(new DOMException("timed out", "TimeoutError")),
        options.timeoutMs,
      );
      const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
      requests++;
      const id = requests, sentAt = options.onExchange ? epochMs() : 0;
      let res: Response;
      try {
        res = await doFetch(`${base}${path}`, {
          method: req.method ?? "GET",
          headers: req.headers,
          signal,
        });
      } catch (e) {
        if (req.signal?.aborted) throw e;
        if (timeout.signal.aborted) throw fail(`no answer within ${options.timeoutMs} ms`, e);
        throw fail((e as Error).message, e);
      } finally {
        clearTimeout(timer);
      }
      if (res.status >= 500) {
        await res.body?.cancel();
        throw fail(`it answered ${res.status}`);
      }
      if (res.status === 304) notModified++;
      if (options.onExchange) {
        const e: OriginExchange = {
          id,
          what: `${req.method ?? "GET"} ${path}`,
          range: req.headers?.Range ?? null,
          status: res.status,
          sentAt,
          headersAt: epochMs(),
          bytes: 0,
        };
        if (res.body && res.status !== 304) pending.set(res, e);
        else options.onExchange(e);
      }
      return res;
    },
    async pipe(res, sink, signal) {
      const declared = Number(res.headers.get("content-length") ?? -1);
      const exchange = pending.get(res);
      let n = 0, firstByteAt: number | undefined;
      // The trickle rule's window: the time spent waiting on the origin in it (not in `sink`, which
      // waits on our own reader and must not count against the origin), and the bytes before it.
      let waited = 0, windowFrom = 0;
      if (res.body) {
        const reader = res.body.getReader();
        try {
          for (;;) {
            if (waited >= stallMs) {
              const owed = declared >= 0
                ? Math.min(TRICKLE_BYTES, declared - windowFrom)
                : TRICKLE_BYTES;
              if (n - windowFrom < owed) {
                throw fail(
                  `its body trickled: ${n - windowFrom} bytes in ${Math.round(waited)} ms`,
                );
              }
              waited = 0, windowFrom = n;
            }
            let timer: ReturnType<typeof setTimeout> | undefined;
            const stalled = new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(fail(`its body stalled for ${stallMs} ms`)), stallMs);
            });
            let r: ReadableStreamReadResult<Uint8Array>;
            const readAt = performance.now();
            try {
              r = await Promise.race([reader.read(), stalled]);
            } catch (e) {
              if (e instanceof HttpError || signal?.aborted) throw e;
              throw fail(`its body was cut: ${(e as Error).message}`, e);
            } finally {
              clearTimeout(timer);
              waited += performance.now() - readAt;
            }
            if (r.done) break;
            if (exchange && firstByteAt === undefined) firstByteAt = epochMs();
            n += r.value.length;
            bytes += r.value.length;
            await sink(r.value);
          }
        } finally {
          reader.cancel().catch(() => {});
          if (exchange) {
            pending.delete(res);
            options.onExchange!({ ...exchange, firstByteAt, doneAt: epochMs(), bytes: n });
          }
        }
      }
      if (declared >= 0 && n !== declared) {
        throw fail(`its body ended after ${n} of ${declared} bytes`);
      }
      return n;
    },
    async body(res, signal) {
      const parts: Uint8Array[] = [];
      const n = await this.pipe(res, (p) => void parts.push(p), signal);
      if (parts.length === 1) return parts[0];
      const out = new Uint8Array(n);
      let at = 0;
      for (const p of parts) out.set(p, at), at += p.length;
      return out;
    },
    figures: () => ({ requests, bytes, notModified, failures }),
  };
}
