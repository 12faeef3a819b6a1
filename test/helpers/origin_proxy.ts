/**
 * A forwarding proxy between an edge and its origin, on loopback: it logs every request (path,
 * Range, status, body bytes) and can misbehave as an origin or a link does: flip a byte of the
 * blob bytes it forwards, hold the response headers back, or call a hook once a blob body has
 * started (to kill the origin in the middle of a span).
 * @module
 */

/** One forwarded request. */
export interface ProxyEntry {
  /** Path and query. */
  readonly path: string;
  /** The Range header, if any. */
  readonly range: string | null;
  /** The If-None-Match header, if any. */
  readonly ifNoneMatch: string | null;
  /** The status forwarded (0: failed). */
  status: number;
  /** Body bytes forwarded. */
  bytes: number;
}

/** How the proxy misbehaves; change the fields at any time. */
export interface ProxyFaults {
  /** Blob range responses still to corrupt (one byte flipped in the middle of each). */
  flip: number;
  /**
   * Offset of a byte to flip in the next blob answer that starts at byte 0 and runs to the end
   * (an edge's opening stream, `Range: bytes=0-`); null for none.
   */
  flipStreamAt: number | null;
  /** While set, response headers are held until it settles (an origin that does not answer). */
  hold: Promise<unknown> | null;
  /**
   * Called once when the body of a blob range response of at least `minBytes` starts; the rest of
   * that body is then cut (what the edge sees of an origin killed in the middle of it, whatever
   * the socket buffers still held).
   */
  onBigBody: { minBytes: number; run: () => void | Promise<void> } | null;
}

/** A running proxy. */
export interface OriginProxy {
  /** `http://127.0.0.1:port`. */
  readonly url: string;
  /** Where it forwards to; may be changed (an origin restarted on another port). */
  target: string;
  /** Every request, in order. */
  readonly log: ProxyEntry[];
  /** The faults. */
  readonly faults: ProxyFaults;
  /** Requests for blob bytes (the container spans). */
  blobRequests(): ProxyEntry[];
  /** Body bytes forwarded since the log was last cleared. */
  bytes(): number;
  /** Stops it. */
  close(): Promise<void>;
}

/**
 * Starts a proxy to `target`.
 *
 * @example
 * ```ts ignore
 * const proxy = await startOriginProxy(origin.url);
 * proxy.faults.flip = 1;
 * ```
 */
export function startOriginProxy(target: string): Promise<OriginProxy> {
  const log: ProxyEntry[] = [];
  const faults: ProxyFaults = { flip: 0, flipStreamAt: null, hold: null, onBigBody: null };
  const abort = new AbortController();
  const proxy: OriginProxy = {
    url: "",
    target,
    log,
    faults,
    blobRequests: () => log.filter((e) => e.path.startsWith("/v1/store/objects/blobs/")),
    bytes: () => log.reduce((n, e) => n + e.bytes, 0),
    close: async () => {
      abort.abort();
      await server.finished;
    },
  };
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    signal: abort.signal,
    onListen() {},
    // A forward cut short (the origin killed, say) is what tests provoke: no log line for it.
    onError: () => new Response(null, { status: 502 }),
  }, async (req) => {
    const url = new URL(req.url);
    const entry: ProxyEntry = {
      path: url.pathname + url.search,
      range: req.headers.get("range"),
      ifNoneMatch: req.headers.get("if-none-match"),
      status: 0,
      bytes: 0,
    };
    log.push(entry);
    const headers = new Headers(req.headers);
    headers.delete("host");
    const res = await fetch(`${proxy.target}${entry.path}`, {
      method: req.method,
      headers,
    });
    if (faults.hold) await faults.hold.catch(() => {});
    entry.status = res.status;
    const isBlob = entry.path.startsWith("/v1/store/objects/blobs/") && res.status === 206;
    const length = Number(res.headers.get("content-length") ?? 0);
    const stream = isBlob && entry.range === "bytes=0-" && faults.flipStreamAt !== null;
    const flip = stream
      ? faults.flipStreamAt!
      : isBlob && faults.flip > 0 && length > 0
      ? (faults.flip--, Math.floor(length / 2))
      : -1;
    if (stream) faults.flipStreamAt = null;
    const hook = isBlob && faults.onBigBody && length >= faults.onBigBody.minBytes
      ? faults.onBigBody
      : null;
    if (hook) faults.onBigBody = null;
    if (!res.body) return new Response(null, { status: res.status, headers: res.headers });
    let at = 0, hooked = false;
    const body = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        async transform(chunk, c) {
          if (flip >= at && flip < at + chunk.length) {
            chunk = chunk.slice();
            chunk[flip - at] ^= 0x40;
          }
          at += chunk.length;
          entry.bytes += chunk.length;
          c.enqueue(chunk);
          if (hook) {
            if (hooked) throw new Error("the origin was killed");
            hooked = true;
            await hook.run();
          }
        },
      }),
    );
    return new Response(body, { status: res.status, headers: res.headers });
  });
  (proxy as { url: string }).url = `http://127.0.0.1:${server.addr.port}`;
  return Promise.resolve(proxy);
}
