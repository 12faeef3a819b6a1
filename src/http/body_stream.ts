/**
 * Turns an async iterable of byte chunks into a pull-driven response body: nothing is produced
 * until the consumer asks (backpressure), a cancelled body stops the producer, a failing producer
 * errors the stream (so the connection is cut rather than a short body passing for a whole one),
 * and a producer that stalls longer than the idle timeout is failed.
 * @module
 */

/** Hooks and limits of {@link iterableBody}. */
export interface BodyOptions {
  /** Longest wait for the next chunk before the body is failed; none when absent or 0. */
  readonly idleTimeoutMs?: number;
  /** Aborted when the consumer cancels or the body fails, so the producer can stop early. */
  readonly abort?: AbortController;
  /** Told the size of every chunk handed to the consumer. */
  readonly onChunk?: (bytes: number) => void;
  /** Called exactly once: how the body ended and, on failure, why. */
  readonly onEnd?: (how: "done" | "error" | "cancel", error?: unknown) => void;
}

const failures = new WeakSet<object>();

/**
 * Whether `e` is what a body made by {@link iterableBody} failed with. The runtime reports a body
 * stream's error to the server's error handler too; that handler skips these, since `onEnd` has
 * been told of them (a cut body is logged once).
 */
export function isBodyFailure(e: unknown): boolean {
  return typeof e === "object" && e !== null && failures.has(e);
}

/** Error of a body whose producer stalled past the idle timeout. */
export class BodyTimeoutError extends Error {
  /** Always `"timeout"`. */
  readonly kind = "timeout";
  /** Builds the error for a stall of `ms` milliseconds. */
  constructor(ms: number) {
    super(`no body bytes produced for ${ms} ms`);
    this.name = "BodyTimeoutError";
  }
}

/**
 * A `ReadableStream` that pulls from `source` one chunk at a time.
 *
 * @example
 * ```ts
 * async function* parts() { yield new Uint8Array([1, 2]); }
 * new Response(iterableBody(parts()));
 * ```
 */
export function iterableBody(
  source: AsyncIterable<Uint8Array>,
  options: BodyOptions = {},
): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const end = (how: "done" | "error" | "cancel", error?: unknown) => {
    if (ended) return;
    ended = true;
    if (how !== "done") options.abort?.abort(error);
    options.onEnd?.(how, error);
  };
  const next = (): Promise<IteratorResult<Uint8Array>> => {
    const ms = options.idleTimeoutMs ?? 0;
    if (ms <= 0) return it.next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BodyTimeoutError(ms)), ms);
    });
    return Promise.race([it.next(), timeout]).finally(() => clearTimeout(timer));
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        // Skip empty chunks: enqueueing one would satisfy the pull without making progress.
        for (;;) {
          const r = await next();
          if (r.done) {
            controller.close();
            end("done");
            return;
          }
          if (r.value.length === 0) continue;
          options.onChunk?.(r.value.length);
          controller.enqueue(r.value);
          return;
        }
      } catch (e) {
        if (typeof e === "object" && e !== null) failures.add(e);
        controller.error(e);
        end("error", e);
        // Let the producer run its cleanup; it may still be awaiting the step that stalled.
        it.return?.().catch(() => {});
      }
    },
    cancel(reason) {
      end("cancel", reason);
      // Not awaited: a producer busy with a step finishes it first, then runs its cleanup.
      it.return?.().catch(() => {});
    },
  });
}
