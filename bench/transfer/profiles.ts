/**
 * The link profiles of `bench:transfer`. `loopback` connects the clients straight to the servers
 * (no proxy, so that its figures carry no proxy cost: the only limits are the two cores that the
 * client, the server and the decoding share); the others go through the throttling proxy
 * (`proxy.ts`) with the link model of `link_model.ts`.
 * @module
 */
import type { LinkSpec } from "./link_model.ts";

/** A named link; `link: null` means direct, without the proxy. */
export interface Profile {
  /** Short name used in flags, tables and the JSON report. */
  readonly name: string;
  /** What it stands for. */
  readonly label: string;
  /** The emulated link, or null for a direct loopback connection. */
  readonly link: LinkSpec | null;
}

/** loopback unlimited, 1 Gbit/s with 2 ms RTT, 100 Mbit/s with 40 ms RTT. */
export const PROFILES: readonly Profile[] = [
  { name: "loopback", label: "loopback, unlimited (direct, no proxy)", link: null },
  { name: "1gbit", label: "1 Gbit/s, 2 ms RTT", link: { bitsPerSecond: 1e9, rttMs: 2 } },
  { name: "100mbit", label: "100 Mbit/s, 40 ms RTT", link: { bitsPerSecond: 100e6, rttMs: 40 } },
];

/** The profiles named in `names` (all when empty); throws on an unknown name. */
export function selectProfiles(names: readonly string[]): Profile[] {
  if (names.length === 0) return [...PROFILES];
  return names.map((n) => {
    const p = PROFILES.find((q) => q.name === n);
    if (!p) {
      throw new Error(
        `unknown profile "${n}": expected one of ${PROFILES.map((q) => q.name).join(", ")}`,
      );
    }
    return p;
  });
}
