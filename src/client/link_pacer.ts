/**
 * Paces range requests on one link so that they follow each other instead of sharing it: a request
 * is sent when those in flight will finish within about one round trip (the time a new request
 * takes to deliver its first byte), judged from the round-trip time and bandwidth measured so far.
 * The link then stays busy, and the first spans of a load (the first layer) get the whole
 * bandwidth instead of a share of it.
 *
 * A request that goes waits for nothing the pacer holds back: its body is read as it arrives,
 * whatever else waits to be sent, and an idle link always takes the next request. Requests whose
 * bodies are read only once all of them have answered go together ({@link LinkPacer.acquireAll}):
 * one by one, the second could wait for the first to progress, which it never does before the
 * second answers (a sharded model's container openings hung so, 3 loads in 40 under load).
 * Browser-safe.
 * @module
 */

/** One request's progress, reported to the pacer. */
export interface PacedTransfer {
  /** The response's headers arrived. */
  headers(): void;
  /** `n` more body bytes arrived. */
  progress(n: number): void;
  /** The request ended, whether it succeeded or not. */
  done(): void;
}

/** The pacer of one link. */
export interface LinkPacer {
  /** Resolves when a request of `bytes` body bytes should be sent. */
  acquire(bytes: number, signal?: AbortSignal): Promise<PacedTransfer>;
  /**
   * Resolves when requests of `sizes` body bytes should be sent, all at once, with a transfer for
   * each: for requests whose bodies are read only once all of them have answered (a container's
   * opening). Acquired one by one, the first could be sent while the second waits for it to make
   * progress, which it never makes while its body waits for the second's answer.
   */
  acquireAll(sizes: readonly number[], signal?: AbortSignal): Promise<PacedTransfer[]>;
  /** The current estimates: round trip in seconds, bandwidth in bytes per second (0: unknown). */
  estimates(): { rtt: number; bandwidth: number };
}

/** Options of {@link linkPacer}. */
export interface PacerOptions {
  /** Most requests in flight at once. */
  readonly maxInflight?: number;
  /** Requests in flight while the bandwidth is not known yet. */
  readonly startInflight?: number;
  /** The clock, in milliseconds (tests inject one). */
  readonly now?: () => number;
}

interface Flight {
  readonly sent: number;
  readonly bytes: number;
  received: number;
  receiving: boolean;
}

/**
 * A pacer for one link.
 *
 * @example
 * ```ts
 * import { linkPacer } from "./link_pacer.ts";
 * const pacer = linkPacer();
 * const t = await pacer.acquire(4 << 20); // the first request goes at once
 * t.headers(); t.progress(4 << 20); t.done();
 * ```
 */
export function linkPacer(options: PacerOptions = {}): LinkPacer {
  const maxInflight = options.maxInflight ?? 4, startInflight = options.startInflight ?? 2;
  const now = options.now ?? (() => performance.now());
  const flights = new Set<Flight>();
  // Requests waiting to be sent, in the order asked; a group (acquireAll) goes as one.
  const waiting: { count: number; go: () => void }[] = [];
  let rtt = Infinity, bodyBytes = 0, activeMs = 0, activeSince = -1;

  const bandwidth = () => activeMs > 0 && bodyBytes > 0 ? bodyBytes / (activeMs / 1000) : 0;
  const receiving = () => [...flights].some((f) => f.receiving);
  const mark = () => {
    // Bandwidth counts only time during which some body was arriving.
    const t = now();
    if (activeSince >= 0) activeMs += t - activeSince;
    activeSince = receiving() ? t : -1;
  };
  // Whether `count` more requests may be sent now. An idle link always takes the next ones, so
  // that every wait ends once the requests in flight end.
  const mayStart = (count: number): boolean => {
    if (flights.size === 0) return true;
    if (flights.size + count > maxInflight) return false;
    const bw = bandwidth();
    if (bw === 0 || rtt === Infinity) return flights.size + count <= startInflight;
    let left = 0;
    for (const f of flights) left += f.bytes - f.received;
    // Send when what is in flight ends within a round trip: the new bytes then follow at once.
    return left / bw <= rtt / 1000;
  };
  const pump = () => {
    while (waiting.length > 0 && mayStart(waiting[0].count)) waiting.shift()!.go();
  };
  /** A request of `bytes`, sent now. */
  const send = (bytes: number): PacedTransfer => {
    const f: Flight = { sent: now(), bytes, received: 0, receiving: false };
    flights.add(f);
    let ended = false;
    return {
      headers() {
        const t = now();
        if (t - f.sent < rtt) rtt = t - f.sent;
        mark();
        f.receiving = true;
        mark();
      },
      progress(n) {
        mark();
        f.received += n;
        bodyBytes += n;
        pump();
      },
      done() {
        if (ended) return;
        ended = true;
        mark();
        flights.delete(f);
        mark();
        pump();
      },
    };
  };
  const acquireAll = (sizes: readonly number[], signal?: AbortSignal) =>
    new Promise<PacedTransfer[]>((resolve, reject) => {
      const entry = {
        count: sizes.length,
        go: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(sizes.map(send));
        },
      };
      const onAbort = () => {
        const i = waiting.indexOf(entry);
        if (i >= 0) waiting.splice(i, 1);
        reject(signal!.reason);
        pump(); // a group that waited at the head may have held back smaller requests
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      waiting.push(entry);
      pump();
    });

  return {
    estimates: () => ({ rtt: rtt === Infinity ? 0 : rtt / 1000, bandwidth: bandwidth() }),
    acquire: (bytes, signal) => acquireAll([bytes], signal).then((t) => t[0]),
    acquireAll,
  };
}
