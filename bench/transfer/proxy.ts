/**
 * The throttling proxy of `deno task bench:transfer`: listens on loopback and forwards each client
 * connection to the upstream server over a connection of its own (one to one, so keep-alive and
 * connection reuse are the client's, as on a real link). Bytes are forwarded unchanged in both
 * directions: status, headers (`Range`, `If-Range`, `ETag`, ...) and bodies are the upstream's,
 * streamed in reads of at most 64 KiB, never a whole body buffered. Each read is delayed as the
 * link model says (`link_model.ts`: shared bandwidth per direction, RTT / 2 each way, one RTT
 * before a new connection delivers), and the client-to-server stream is parsed for request
 * boundaries so that requests are counted (`request_counter.ts`).
 *
 * At most `max(1 MiB, 2 x bandwidth-delay product)` per direction and connection is held in the
 * proxy ("in the network"); past that it stops reading, so a slow reader pushes back on the server
 * as TCP would.
 *
 * ```
 * deno run -A bench/transfer/proxy.ts --upstream 18501 --port 18510 --mbit 100 --rtt-ms 40
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { type Direction, type LinkModel, linkModel, type LinkSpec } from "./link_model.ts";
import { requestCounter, type SeenRequest } from "./request_counter.ts";

/** What the proxy counted since it started or was last reset. */
export interface ProxyStats {
  /** Client connections accepted. */
  connections: number;
  /** Requests seen (complete request heads). */
  requests: number;
  /** Requests by method. */
  byMethod: Record<string, number>;
  /** Requests that carried a `Range` header. */
  rangeRequests: number;
  /** Bytes client to server. */
  bytesUp: number;
  /** Bytes server to client. */
  bytesDown: number;
  /** Connections whose request stream could not be followed (counts are then lower bounds). */
  opaqueConnections: number;
}

/** A running proxy. */
export interface Proxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** The link it applies now. */
  readonly link: LinkSpec;
  /** Applies `link` to connections accepted from now on (and resets the shared buckets). */
  setLink(link: LinkSpec): void;
  /** The counters since the last reset. */
  stats(): ProxyStats;
  /** Zeroes the counters. */
  reset(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Options for {@link startProxy}. */
export interface ProxyOptions {
  /** Upstream port on 127.0.0.1. */
  readonly upstreamPort: number;
  /** Port to listen on (127.0.0.1); 0 picks a free one. */
  readonly port?: number;
  /** The link to emulate. */
  readonly link: LinkSpec;
  /** Called with every request seen (for logs). */
  readonly onRequest?: (r: SeenRequest) => void;
}

const READ_BYTES = 64 << 10;

const emptyStats = (): ProxyStats => ({
  connections: 0,
  requests: 0,
  byMethod: {},
  rangeRequests: 0,
  bytesUp: 0,
  bytesDown: 0,
  opaqueConnections: 0,
});

/** Bytes held per direction and connection: 2 bandwidth-delay products, at least 1 MiB. */
export function inFlightLimit(link: LinkSpec): number {
  const bdp = link.bitsPerSecond === null ? 0 : (link.bitsPerSecond / 8) * (link.rttMs / 1000);
  return Math.max(1 << 20, Math.ceil(2 * bdp));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Starts the proxy.
 *
 * @example
 * ```ts ignore
 * import { startProxy } from "./proxy.ts";
 * const p = startProxy({ upstreamPort: 8080, link: { bitsPerSecond: 1e9, rttMs: 2 } });
 * await fetch(`http://127.0.0.1:${p.port}/healthz`);
 * console.log(p.stats().requests); // 1
 * await p.close();
 * ```
 */
export function startProxy(options: ProxyOptions): Proxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port ?? 0 });
  let link = options.link;
  let model = linkModel(link);
  let stats = emptyStats();
  const open = new Set<Deno.TcpConn>();
  const tasks = new Set<Promise<void>>();

  const closeConn = (c: Deno.TcpConn) => {
    if (!open.delete(c)) return;
    try {
      c.close();
    } catch {
      // Already closed.
    }
  };

  /** Forwards `from` to `to` in one direction through `m`, until EOF or an error. */
  const pump = async (
    from: Deno.TcpConn,
    to: Deno.TcpConn,
    direction: Direction,
    m: LinkModel,
    notBefore: number,
    onBytes: (bytes: Uint8Array) => void,
  ) => {
    const limit = inFlightLimit(m.spec);
    const queue: { bytes: Uint8Array; at: number }[] = [];
    let held = 0, ended = false, failed = false;
    const wake: { writer?: () => void; reader?: () => void } = {};
    const writer = (async () => {
      try {
        for (;;) {
          if (queue.length === 0) {
            if (ended) break;
            await new Promise<void>((r) => (wake.writer = r));
            continue;
          }
          const { bytes, at } = queue[0];
          // Never early; timers make it up to ~1 ms late, which does not add up over a transfer
          // since every due time comes from the model, not from the previous write.
          for (let wait; (wait = at - performance.now()) > 0;) await sleep(wait);
          for (let n = 0; n < bytes.length;) n += await to.write(bytes.subarray(n));
          queue.shift();
          held -= bytes.length;
          wake.reader?.();
        }
        if (!failed) await to.closeWrite().catch(() => {});
      } catch {
        // The receiver is gone: stop the reader too (its pending read fails once closed).
        failed = true;
        closeConn(from);
        wake.reader?.();
      }
    })();
    try {
      for (;;) {
        const buf = new Uint8Array(READ_BYTES);
        const n = await from.read(buf);
        if (n === null) break;
        const bytes = buf.subarray(0, n);
        onBytes(bytes);
        const at = Math.max(m.send(direction, n, performance.now()), notBefore);
        queue.push({ bytes, at });
        held += n;
        wake.writer?.();
        while (held > limit && !failed) await new Promise<void>((r) => (wake.reader = r));
        if (failed) break;
      }
    } catch {
      failed = true;
    } finally {
      ended = true;
      wake.writer?.();
    }
    await writer;
    if (failed) {
      closeConn(from);
      closeConn(to);
    }
  };

  const serve = async (client: Deno.TcpConn) => {
    const accepted = performance.now();
    const m = model, s = stats;
    s.connections++;
    open.add(client);
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: options.upstreamPort });
    } catch {
      closeConn(client);
      return;
    }
    open.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const counter = requestCounter();
    let wasOpaque = false;
    await Promise.all([
      pump(client, upstream, "up", m, m.connectionReady(accepted) + m.oneWayMs, (bytes) => {
        stats.bytesUp += bytes.length;
        for (const r of counter.feed(bytes)) {
          stats.requests++;
          stats.byMethod[r.method] = (stats.byMethod[r.method] ?? 0) + 1;
          if (r.range !== null) stats.rangeRequests++;
          options.onRequest?.(r);
        }
        if (counter.opaque && !wasOpaque) {
          wasOpaque = true;
          stats.opaqueConnections++;
        }
      }),
      pump(upstream, client, "down", m, 0, (bytes) => {
        stats.bytesDown += bytes.length;
      }),
    ]);
    closeConn(client);
    closeConn(upstream);
  };

  const accepting = (async () => {
    for (;;) {
      let c: Deno.TcpConn;
      try {
        c = await listener.accept();
      } catch {
        return; // listener closed
      }
      const t = serve(c).catch(() => {});
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    get link() {
      return link;
    },
    setLink(next) {
      link = next;
      model = linkModel(next);
    },
    stats: () => structuredClone(stats),
    reset() {
      stats = emptyStats();
    },
    async close() {
      listener.close();
      await accepting;
      for (const c of [...open]) closeConn(c);
      await Promise.allSettled([...tasks]);
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      upstream: { type: "string" },
      port: { type: "string", default: "0" },
      mbit: { type: "string" },
      "rtt-ms": { type: "string", default: "0" },
    },
  });
  if (!values.upstream) {
    console.error("usage: proxy.ts --upstream PORT [--port N] [--mbit N] [--rtt-ms N]");
    Deno.exit(2);
  }
  const p = startProxy({
    upstreamPort: Number(values.upstream),
    port: Number(values.port),
    link: {
      bitsPerSecond: values.mbit ? Number(values.mbit) * 1e6 : null,
      rttMs: Number(values["rtt-ms"]),
    },
  });
  console.log(`proxy on 127.0.0.1:${p.port} -> 127.0.0.1:${values.upstream}`);
  Deno.addSignalListener("SIGINT", async () => {
    console.log(JSON.stringify(p.stats()));
    await p.close();
    Deno.exit(0);
  });
}
