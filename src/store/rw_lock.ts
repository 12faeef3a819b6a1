/**
 * An in-process readers-writer lock: any number of shared holders at once, or one exclusive
 * holder. Publishes hold it shared from the moment they rely on stored objects until their ref is
 * switched; garbage collection holds it exclusively, so it never removes an object that a publish
 * is about to reference.
 * @module
 */

/** The lock. */
export interface RwLock {
  /** Runs `fn` while holding the lock shared. */
  shared<T>(fn: () => Promise<T>): Promise<T>;
  /** Runs `fn` while holding the lock alone. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * Creates a lock. Waiting writers go first: new shared holders queue behind a waiting writer, so
 * a steady stream of publishes cannot starve collection.
 *
 * @example
 * ```ts
 * const lock = createRwLock();
 * await lock.shared(() => publish());
 * await lock.exclusive(() => collect());
 * ```
 */
export function createRwLock(): RwLock {
  let readers = 0, writing = false;
  const writers: (() => void)[] = [];
  const waitingReaders: (() => void)[] = [];
  const wake = () => {
    if (writing || readers > 0) {
      return;
    }
    const w = writers.shift();
    if (w) {
      writing = true;
      w();
      return;
    }
    for (const r of waitingReaders.splice(0)) {
      readers++;
      r();
    }
  };
  return {
    async shared(fn) {
      if (writing || writers.length > 0) await new Promise<void>((r) => waitingReaders.push(r));
      else readers++;
      try {
        return await fn();
      } finally {
        readers--;
        wake();
      }
    },
    async exclusive(fn) {
      if (writing || readers > 0) await new Promise<void>((r) => writers.push(r));
      else writing = true;
      try {
        return await fn();
      } finally {
        writing = false;
        wake();
      }
    },
  };
}
