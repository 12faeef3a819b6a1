/**
 * Maps over items with a bounded look-ahead and yields results in input order. Browser-safe.
 * @module
 */

/**
 * Starts `fn` for up to `ahead` items beyond the one awaited, and yields results in the order of
 * `items`. Work starts only as the consumer pulls, so at most `ahead` results are held at once.
 * A rejection is thrown when its item's turn comes; work still in flight when the consumer stops
 * is left to settle, its rejections ignored (pair this with an `AbortSignal` to stop it).
 *
 * @example
 * ```ts
 * import { orderedWindow } from "./ordered_window.ts";
 * const out: number[] = [];
 * for await (const x of orderedWindow([3, 1, 2], 2, async (x) => x * 10)) out.push(x);
 * console.assert(out.join() === "30,10,20");
 * ```
 */
export async function* orderedWindow<T, R>(
  items: Iterable<T>,
  ahead: number,
  fn: (item: T, index: number) => Promise<R>,
): AsyncGenerator<R> {
  const it = items[Symbol.iterator]();
  const queue: Promise<R>[] = [];
  let index = 0;
  const fill = () => {
    while (queue.length < ahead) {
      const next = it.next();
      if (next.done) return;
      const p = fn(next.value, index++);
      p.catch(() => {});
      queue.push(p);
    }
  };
  fill();
  while (queue.length > 0) {
    const result = await queue.shift()!;
    fill();
    yield result;
  }
}
