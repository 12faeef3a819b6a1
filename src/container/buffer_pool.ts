/**
 * Buffers reused across reads. Fresh memory is expensive on the virtual machines this runs on:
 * a new 700 KB buffer filled once ran at 0.2-5 GB/s (every page faulted in from the host), the
 * same buffer filled again at 10-60 GB/s; so the assembler reads container spans into pooled
 * buffers and returns them once every block that reads them is done. Buffers are shared memory
 * where the platform has it, so decode workers read them in place. Browser-safe.
 * @module
 */

/** A pool of byte buffers. */
export interface BufferPool {
  /** A buffer of exactly `n` bytes (a view of a pooled one of at least that size). */
  take(n: number): Uint8Array;
  /** Gives back a buffer {@link BufferPool.take} returned; it must not be used afterwards. */
  give(b: Uint8Array): void;
}

const MIN_CAPACITY = 64 << 10;

/**
 * A pool holding at most `maxBytes` of idle buffers, in power-of-two sizes from 64 KiB.
 *
 * @example
 * ```ts
 * import { bufferPool } from "./buffer_pool.ts";
 * const pool = bufferPool(1 << 20);
 * const b = pool.take(1000);
 * pool.give(b);
 * console.assert(pool.take(900).buffer === b.buffer);
 * ```
 */
export function bufferPool(maxBytes: number): BufferPool {
  const idle = new Map<number, Uint8Array[]>();
  let idleBytes = 0;
  const allocate = (capacity: number) =>
    typeof SharedArrayBuffer === "function"
      ? new Uint8Array(new SharedArrayBuffer(capacity))
      : new Uint8Array(capacity);
  return {
    take(n) {
      let capacity = MIN_CAPACITY;
      while (capacity < n) capacity *= 2;
      const list = idle.get(capacity);
      const b = list?.pop();
      if (b) idleBytes -= capacity;
      return (b ?? allocate(capacity)).subarray(0, n);
    },
    give(b) {
      const capacity = b.buffer.byteLength;
      if (capacity < MIN_CAPACITY || (capacity & (capacity - 1)) !== 0) return;
      if (idleBytes + capacity > maxBytes) return;
      const whole = new Uint8Array(b.buffer);
      const list = idle.get(capacity);
      if (list) list.push(whole);
      else idle.set(capacity, [whole]);
      idleBytes += capacity;
    },
  };
}

/** The process's pool for container spans: what the assembler reads into. */
export const spanPool: BufferPool = bufferPool(64 << 20);
