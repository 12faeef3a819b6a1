/**
 * The fallback for object stores without conditional writes (s3rver, older MinIO and Ceph
 * releases): a ref is replaced under a lease object, taken with Fischer's timed mutual exclusion,
 * which needs nothing but reads and writes that are strongly consistent (S3's since 2020):
 *
 * 1. read the lease object `L`; while it names a live holder (its expiry not passed), wait;
 * 2. write `L` = {owner: a fresh token, expires: now + TTL}, and measure from the start of the
 *    read in 1 to the end of this write: if that took `Δ` (500 ms) or more, give up this try
 *    (the write may have landed after another writer's check) and wait for `L` to expire;
 * 3. wait `D` > `Δ` (1 s), read `L` again: if it still names our token, we hold the lease.
 *
 * Two writers that both saw `L` free wrote it within `Δ` of their reads; whichever wrote last is
 * what both read after `D`, so exactly one proceeds. The holder then reads the ref, compares its
 * entity tag with the caller's (compare-and-swap), writes it, and deletes `L`; it refuses to write
 * once less than {@link LeaseTiming.marginMs} of the lease is left, so a holder slowed past its
 * expiry never writes after another has taken over.
 *
 * **What it guarantees:** one winner among writers that follow this protocol, provided every
 * store request completes within `Δ` (a slower one aborts its try rather than risk it) and the
 * replicas' clocks agree within the margin (5 s; NTP keeps them within milliseconds). A writer
 * that dies holding the lease delays others by at most the TTL (15 s). It costs about `D` per ref
 * write, which publishes and branch deletes can afford.
 * @module
 */

/** Timing of the lease protocol. */
export interface LeaseTiming {
  /** Longest time from reading a free lease to having written ours (`Δ`). */
  readonly deltaMs: number;
  /** Wait between writing the lease and checking it (`D`, more than `Δ`). */
  readonly settleMs: number;
  /** How long a lease lives. */
  readonly ttlMs: number;
  /** Least lease time left for the holder to still write the ref. */
  readonly marginMs: number;
  /** Longest wait for a lease before the write is refused as a conflict. */
  readonly giveUpMs: number;
}

/** The defaults. */
export const LEASE_TIMING: LeaseTiming = {
  deltaMs: 500,
  settleMs: 1000,
  ttlMs: 15_000,
  marginMs: 5_000,
  giveUpMs: 60_000,
};

/** A lease's stored state. */
export interface LeaseState {
  /** The holder's token. */
  readonly owner: string;
  /** When it expires, ms since the epoch on the holder's clock. */
  readonly expiresMs: number;
}

/** Reads and writes of the lease object. */
export interface LeaseIo {
  /** The lease, or null when there is none (or it is unreadable). */
  read(): Promise<LeaseState | null>;
  /** Writes the lease. */
  write(state: LeaseState): Promise<void>;
  /** Removes the lease. */
  remove(): Promise<void>;
}

/** Thrown when no lease could be taken within `giveUpMs`. */
export class LeaseTimeout extends Error {
  /** Builds it. */
  constructor(message: string) {
    super(message);
    this.name = "LeaseTimeout";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` holding the lease behind `io`. `fn` receives `stillHeld()`, which it must call right
 * before its one write: it is false once less than the margin is left.
 *
 * @example
 * ```ts ignore
 * await withLease(io, async (stillHeld) => {
 *   const cur = await readRef();
 *   if (cur.etag !== expected) throw conflict();
 *   if (!stillHeld()) throw conflict();
 *   await writeRef();
 * });
 * ```
 */
export async function withLease<T>(
  io: LeaseIo,
  fn: (stillHeld: () => boolean) => Promise<T>,
  timing: LeaseTiming = LEASE_TIMING,
  now: () => number = Date.now,
): Promise<T> {
  const giveUp = now() + timing.giveUpMs;
  for (;;) {
    if (now() > giveUp) {
      throw new LeaseTimeout(`no lease within ${timing.giveUpMs} ms: another writer holds it`);
    }
    const t0 = now();
    const cur = await io.read();
    if (cur && cur.expiresMs > now()) {
      // Held: wait for it to be released or to expire, with jitter so waiters do not march.
      await sleep(Math.min(cur.expiresMs - now(), 100 + Math.random() * 200));
      continue;
    }
    const mine: LeaseState = { owner: crypto.randomUUID(), expiresMs: now() + timing.ttlMs };
    await io.write(mine);
    if (now() - t0 >= timing.deltaMs) {
      // Too slow to be sure no one else checked in between: let the lease expire, try again.
      await sleep(timing.settleMs);
      continue;
    }
    await sleep(timing.settleMs);
    const after = await io.read();
    if (after?.owner !== mine.owner) continue;
    try {
      return await fn(() => now() < mine.expiresMs - timing.marginMs);
    } finally {
      // Only our own lease is removed; one that expired and was taken over is left alone.
      const last = await io.read().catch(() => null);
      if (last?.owner === mine.owner) await io.remove().catch(() => {});
    }
  }
}
