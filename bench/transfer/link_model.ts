/**
 * The model of a network link that the throttling proxy (`proxy.ts`) applies, as pure arithmetic
 * on a clock the caller passes in, so that it is tested without sleeping.
 *
 * What is modelled, per link (shared by every connection through the proxy):
 * - **Bandwidth**: one token bucket per direction (full duplex), filled at the link rate, holding at
 *   most `burstBytes` (1 ms of the link by default, at least 16 KiB). A send larger than the tokens
 *   goes into debt: it leaves when the debt is paid, so sends queue behind each other in arrival
 *   order as on a bottleneck link. Bytes counted are HTTP bytes (headers and bodies), i.e. the
 *   rate is TCP goodput; IP/TCP header overhead (~3% at 1500-byte MTU) is not added.
 * - **Latency**: every byte arrives one way (RTT / 2) after it leaves, in both directions, so a
 *   request/response exchange costs one RTT on top of the server's time and the transfer time.
 * - **Connection set-up**: a new connection delivers nothing before one RTT after it was accepted
 *   (TCP's SYN / SYN-ACK before the client can send its request), so a request on a new connection
 *   costs two RTTs, one on a reused connection costs one.
 *
 * Not modelled: TCP slow start and congestion control, packet loss, window limits (loopback sockets
 * autotune past the bandwidth-delay product here), TLS, and jitter.
 * @module
 */

/** Which way bytes go: `up` is client to server (requests), `down` server to client. */
export type Direction = "up" | "down";

/** A link to emulate. `bitsPerSecond: null` means no bandwidth limit. */
export interface LinkSpec {
  /** Line rate in bits per second (10^6 = 1 Mbit/s), or null for unlimited. */
  readonly bitsPerSecond: number | null;
  /** Round-trip time in ms added to every exchange. */
  readonly rttMs: number;
  /** Token bucket size in bytes; 1 ms of the link (at least 16 KiB) when omitted. */
  readonly burstBytes?: number;
}

/** The link's state: reserve bytes in a direction, learn when they arrive. */
export interface LinkModel {
  /** The spec this model applies. */
  readonly spec: LinkSpec;
  /** One-way delay in ms (RTT / 2). */
  readonly oneWayMs: number;
  /**
   * Earliest time (ms, same clock as `now`) at which a connection accepted at `now` delivers its
   * first byte to the server: one RTT later (the handshake).
   */
  connectionReady(now: number): number;
  /**
   * Sends `bytes` bytes in `direction` at time `now`; returns the time the last of them arrives at
   * the far end. Successive calls must not go back in time (a smaller `now` is treated as the
   * latest seen).
   */
  send(direction: Direction, bytes: number, now: number): number;
}

/** The default bucket: 1 ms of the link, at least 16 KiB. */
export function defaultBurst(bitsPerSecond: number): number {
  return Math.max(16 << 10, Math.round(bitsPerSecond / 8 / 1000));
}

/**
 * A fresh link model for `spec`.
 *
 * @example
 * ```ts
 * import { linkModel } from "./link_model.ts";
 * const link = linkModel({ bitsPerSecond: 100e6, rttMs: 40, burstBytes: 0 });
 * link.send("down", 12_500_000, 0); // 1020: one second on the wire, then 20 ms one way
 * ```
 */
export function linkModel(spec: LinkSpec): LinkModel {
  if (!(spec.rttMs >= 0)) throw new RangeError(`rttMs must be >= 0: received ${spec.rttMs}`);
  if (spec.bitsPerSecond !== null && !(spec.bitsPerSecond > 0)) {
    throw new RangeError(`bitsPerSecond must be > 0 or null: received ${spec.bitsPerSecond}`);
  }
  const oneWayMs = spec.rttMs / 2;
  const bytesPerMs = spec.bitsPerSecond === null ? Infinity : spec.bitsPerSecond / 8 / 1000;
  const burst = spec.bitsPerSecond === null
    ? Infinity
    : spec.burstBytes ?? defaultBurst(spec.bitsPerSecond);
  if (!(burst >= 0)) throw new RangeError(`burstBytes must be >= 0: received ${burst}`);
  const buckets = {
    up: { tokens: burst, at: -Infinity },
    down: { tokens: burst, at: -Infinity },
  };
  return {
    spec,
    oneWayMs,
    connectionReady: (now) => now + spec.rttMs,
    send(direction, bytes, now) {
      if (!(bytes >= 0)) throw new RangeError(`bytes must be >= 0: received ${bytes}`);
      if (bytesPerMs === Infinity) return now + oneWayMs;
      const b = buckets[direction];
      const t = Math.max(now, b.at);
      b.tokens = b.at === -Infinity ? burst : Math.min(burst, b.tokens + (t - b.at) * bytesPerMs);
      b.at = t;
      b.tokens -= bytes;
      // In debt: the last byte leaves when the bucket is back to zero.
      const leaves = b.tokens >= 0 ? t : t - b.tokens / bytesPerMs;
      return leaves + oneWayMs;
    },
  };
}
