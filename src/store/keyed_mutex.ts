/**
 * An in-process mutex per key: callers with the same key run one after the other, in arrival
 * order; different keys run concurrently.
 * @module
 */

/** Runs functions exclusively per key. */
export interface KeyedMutex {
  /** Runs `fn` once every earlier holder of `key` has finished; resolves to its result. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Keys currently held or awaited. */
  readonly size: number;
}

/**
 * Creates an empty keyed mutex.
 *
 * @example
 * ```ts
 * const m = createKeyedMutex();
 * await Promise.all([m.run("a", slowWrite), m.run("a", otherWrite)]); // one after the other
 * ```
 */
export function createKeyedMutex(): KeyedMutex {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const prev = tails.get(key) ?? Promise.resolve();
      const result = prev.then(fn, fn);
      const tail = result.catch(() => {});
      tails.set(key, tail);
      tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    get size() {
      return tails.size;
    },
  };
}
