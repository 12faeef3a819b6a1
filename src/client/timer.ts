/**
 * One-shot timers for the client that do not touch the global `setTimeout`. In Deno 2.9 the first
 * call of `setTimeout` loads its Node-compatible timers: that call alone took 16-25 ms on this
 * machine (3 runs of a one-line script), and the client made it before its first request, twice
 * (the deferred native backends and the stall guard). `AbortSignal.timeout` is the Web platform's
 * other timer: creating one took 0.7 ms, and Deno keeps the process alive for it only while it has
 * an `abort` listener, as it does for a `setTimeout` until `clearTimeout`. Browser-safe.
 * @module
 */

/**
 * Calls `fn` once, `ms` milliseconds from now (never earlier: fractions round up); the returned
 * function cancels it.
 *
 * @example
 * ```ts
 * import { after } from "./timer.ts";
 * const cancel = after(10_000, () => console.log("late"));
 * cancel(); // never prints, and keeps nothing alive
 * ```
 */
export function after(ms: number, fn: () => void): () => void {
  const signal = AbortSignal.timeout(Math.max(0, Math.ceil(ms)));
  const fire = () => fn();
  signal.addEventListener("abort", fire, { once: true });
  return () => signal.removeEventListener("abort", fire);
}

/**
 * Resolves on a timer: after the microtasks queued now (requests being sent, a value handed to a
 * consumer) and the event loop's turn, for work that must not hold those up.
 *
 * @example
 * ```ts
 * import { nextTurn } from "./timer.ts";
 * await nextTurn(); // whatever was queued before has run
 * ```
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => after(0, resolve));
}
