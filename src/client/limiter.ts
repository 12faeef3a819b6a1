/**
 * A first-come, first-served limit on how many tasks run at once. Browser-safe.
 * @module
 */

/** Runs tasks with at most `n` of them in flight; waiting tasks start in the order they came. */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/**
 * Creates a {@link Limiter} of `n` slots.
 *
 * @example
 * ```ts
 * import { limiter } from "./limiter.ts";
 * const limit = limiter(2);
 * const results = await Promise.all([1, 2, 3].map((x) => limit(async () => x * 2)));
 * console.assert(results.join() === "2,4,6");
 * ```
 */
export function limiter(n: number): Limiter {
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`concurrency must be an integer >= 1: received ${n}`);
  }
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}
