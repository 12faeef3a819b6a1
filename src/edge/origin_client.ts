/**
 * Requests from an edge to its origin: each under a time limit to the response headers and a
 * limit on any stall of its body, counted (requests and body bytes, for `/metrics`), and failing
 * as one error kind the server answers with `503` and `Retry-After`. After a connection failure
 * the origin counts as down for {@link DOWN_MS}: requests then fail at once instead of each
 * waiting for a time-out, so a client is never kept waiting on an origin known to be gone.
 * @module
 */
import { HttpError } from "../http/http_error.ts";

/** How long an origin that failed to answer is taken as down. */
export const DOWN_MS = 1000;
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
  options: { timeoutMs: number; stallMs?: number; fetch?: typeof fetch },
): OriginClient {
  base = base.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const stallMs = options.stallMs ?? Math.max(options.timeoutMs, 10_000);
  let requests = 0, bytes = 0, notModified = 0, failures = 0, downUntil = 0;
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
      const timeout = AbortSignal.timeout(options.timeoutMs);
      const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
      requests++;
      let res: Response;
      try {
        res = await doFetch(`${base}${path}`, {
          method: req.method ?? "GET",
          headers: req.headers,
          signal,
        });
      } catch (e) {
        if (req.signal?.aborted) throw e;
        if (timeout.aborted) throw fail(`no answer within ${options.timeoutMs} ms`, e);
        throw fail((e as Error).message, e);
      }
      if (res.status >= 500) {
        await res.body?.cancel();
        throw fail(`it answered ${res.status}`);
      }
      if (res.status === 304) notModified++;
      return res;
    },
    async pipe(res, sink, signal) {
      const declared = Number(res.headers.get("content-length") ?? -1);
      let n = 0;
      if (res.body) {
        const reader = res.body.getReader();
        try {
          for (;;) {
            let timer: ReturnType<typeof setTimeout> | undefined;
            const stalled = new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(fail(`its body stalled for ${stallMs} ms`)), stallMs);
            });
            let r: ReadableStreamReadResult<Uint8Array>;
            try {
              r = await Promise.race([reader.read(), stalled]);
            } catch (e) {
              if (e instanceof HttpError || signal?.aborted) throw e;
              throw fail(`its body was cut: ${(e as Error).message}`, e);
            } finally {
              clearTimeout(timer);
            }
            if (r.done) break;
            n += r.value.length;
            bytes += r.value.length;
            await sink(r.value);
          }
        } finally {
          reader.cancel().catch(() => {});
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
