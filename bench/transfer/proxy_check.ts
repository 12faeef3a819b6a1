/**
 * The bench's own timing check of the proxy, printed with the results (never asserted in
 * `deno test`, since time on a shared machine is noise): on each link profile,
 * - two 1-byte Range requests in one curl process (one connection): time to first byte of the
 *   first should be about 2 RTT (handshake + request), of the second about 1 RTT, each plus what
 *   the same requests take without the proxy;
 * - one GET of a whole file: time should be about 2 RTT + the longer of size / rate and the same
 *   GET without the proxy (the server and curl overlap with the link).
 * @module
 */
import type { LinkSpec } from "./link_model.ts";
import { timed } from "./processes.ts";

/** Measured against expected, ms. */
export interface ProxyCheck {
  /** Profile name. */
  readonly profile: string;
  /** First byte of a first request on a new connection: expected, measured. */
  readonly newConnection: { readonly expectedMs: number; readonly measuredMs: number };
  /** First byte of a request on the same connection. */
  readonly reusedConnection: { readonly expectedMs: number; readonly measuredMs: number };
  /** A whole-file GET. */
  readonly bulk: {
    readonly bytes: number;
    readonly expectedMs: number;
    readonly measuredMs: number;
    /** Measured rate, Mbit/s, over the time less 2 RTT. */
    readonly mbitPerSec: number;
  };
}

async function twoTinyGets(url: string): Promise<[number, number]> {
  const r = await timed("curl", [
    "-sS",
    "--fail",
    "-r",
    "0-0",
    "-o",
    "/dev/null",
    "-o",
    "/dev/null",
    "-w",
    "%{time_starttransfer}\\n",
    url,
    url,
  ]);
  const [a, b] = r.stdout.trim().split("\n").map((x) => Number(x) * 1000);
  if (r.code !== 0 || !(a >= 0 && b >= 0)) throw new Error(`curl ${url}: ${r.stderr}`);
  return [a, b];
}

/**
 * Checks the proxy at `proxiedUrl` (link `link`) against the same file at `directUrl`, whose size
 * is `bytes`.
 */
export async function checkProxy(
  profile: string,
  link: LinkSpec,
  directUrl: string,
  proxiedUrl: string,
  bytes: number,
): Promise<ProxyCheck> {
  const [d1, d2] = await twoTinyGets(directUrl);
  const [p1, p2] = await twoTinyGets(proxiedUrl);
  const direct = await timed("curl", ["-sS", "--fail", "-o", "/dev/null", directUrl]);
  const bulk = await timed("curl", ["-sS", "--fail", "-o", "/dev/null", proxiedUrl]);
  if (bulk.code !== 0 || direct.code !== 0) throw new Error(`curl ${proxiedUrl}: ${bulk.stderr}`);
  const transferMs = link.bitsPerSecond ? (bytes * 8) / link.bitsPerSecond * 1000 : 0;
  const measuredTransfer = Math.max(1e-3, bulk.ms - 2 * link.rttMs);
  return {
    profile,
    newConnection: { expectedMs: 2 * link.rttMs + d1, measuredMs: p1 },
    reusedConnection: { expectedMs: link.rttMs + d2, measuredMs: p2 },
    bulk: {
      bytes,
      expectedMs: 2 * link.rttMs + Math.max(transferMs, direct.ms),
      measuredMs: bulk.ms,
      mbitPerSec: (bytes * 8) / 1e6 / (measuredTransfer / 1000),
    },
  };
}
