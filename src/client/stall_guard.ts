/**
 * A limit on how long the client waits for a server that has stopped sending: without one, a
 * server (or a proxy, or a half-dead connection) that stops mid-body keeps a `pull` or a
 * `loadModel` waiting forever, since neither `fetch` nor TCP gives up on an idle connection.
 * Only time spent waiting counts: a consumer that is slow to read (decoding, writing) never makes
 * a body look stalled. Browser-safe.
 * @module
 */
import { ClientError } from "./errors.ts";
import type { Fetch } from "./http.ts";
import { after } from "./timer.ts";

/** The default limit, milliseconds: long enough for a loaded server's first byte. */
export const STALL_MS = 30_000;

/** Statuses whose responses have no body (the `Response` constructor refuses one for them). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * `fetchFn` under a stall limit: a request whose response headers, or the next piece of whose
 * body, does not arrive within `stallMs` of being waited for is aborted, and rejects with a
 * {@link ClientError} of kind `stalled` that names the request. `stallMs` 0 turns the limit off.
 *
 * @example
 * ```ts
 * import { guardStalls } from "./stall_guard.ts";
 * const guarded = guardStalls((input, init) => fetch(input, init), 10_000);
 * // guarded(url) rejects with kind "stalled" if the server goes silent for 10 s.
 * ```
 */
export function guardStalls(fetchFn: Fetch, stallMs: number = STALL_MS): Fetch {
  if (!(Number.isFinite(stallMs) && stallMs >= 0)) {
    throw new RangeError(`stallMs must be a number >= 0: received ${stallMs}`);
  }
  if (stallMs === 0) return fetchFn;
  return async (input, init = {}) => {
    const method = init.method ?? (input instanceof Request ? input.method : "GET");
    const url = input instanceof Request ? input.url : String(input);
    const range = new Headers(init.headers).get("range");
    const what = `${method} ${url}${range ? ` (${range})` : ""}`;
    const abort = new AbortController();
    // What ends the current wait when the request is aborted (the limit, or the caller). The abort
    // signal alone is not enough: Deno's fetch follows it through a dependent signal that the
    // source holds only weakly, and once that is collected mid-body an abort no longer reaches
    // the body, whose read then never settles (seen as a hung test in 1 of 4 runs).
    let endWait: (() => void) | undefined;
    const halt = (why: unknown) => {
      abort.abort(why);
      endWait?.();
    };
    const outer = init.signal;
    const onOuter = () => halt(outer!.reason);
    if (outer?.aborted) onOuter();
    else outer?.addEventListener("abort", onOuter, { once: true });
    const detach = () => outer?.removeEventListener("abort", onOuter);

    // One timer per request, re-armed lazily: a body arrives in thousands of pieces, and setting
    // and clearing a timer for each would cost more than the check. `since` is when the current
    // wait began (null: nobody is waiting, so nothing can stall).
    let since: number | null = performance.now(), phase = "response headers";
    let cancel: (() => void) | undefined;
    const check = () => {
      cancel = undefined;
      if (since === null) return;
      const left = since + stallMs - performance.now();
      if (left > 0) {
        cancel = after(left, check);
        return;
      }
      halt(new ClientError("stalled", `${what}: no ${phase} for ${stallMs} ms`));
    };
    const wait = () => {
      since = performance.now();
      cancel ??= after(stallMs, check);
    };
    const idle = () => {
      since = null;
    };
    const stop = () => {
      since = null;
      cancel?.();
      cancel = undefined;
      endWait = undefined;
      detach();
    };
    // The stall, when the limit fired; otherwise what failed.
    const reason = (e: unknown) =>
      abort.signal.aborted && abort.signal.reason instanceof ClientError &&
        abort.signal.reason.kind === "stalled"
        ? abort.signal.reason
        : e;

    wait();
    // A fetch that throws at once (a bad URL) rejects like any other, so that stop() runs.
    const sent = (async () => await fetchFn(input, { ...init, signal: abort.signal }))();
    let res: Response;
    try {
      res = await new Promise<Response>((resolve, reject) => {
        endWait = () => reject(abort.signal.reason);
        if (abort.signal.aborted) endWait();
        sent.then(resolve, reject);
      });
    } catch (e) {
      stop();
      // An answer that comes after all is not read: let its connection go.
      sent.then((late) => late.body?.cancel().catch(() => {}), () => {});
      throw reason(e);
    }
    endWait = undefined;
    idle();
    // The headers' timer goes now: a body its caller never reads must not keep a process alive.
    cancel?.();
    cancel = undefined;
    if (!res.body || NULL_BODY.has(res.status)) {
      stop();
      return res;
    }
    phase = "body bytes";
    const reader = res.body.getReader();
    // Cancelling the reader settles a pending read (as done) whether or not the abort got through.
    endWait = () => void reader.cancel(abort.signal.reason).catch(() => {});
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        wait();
        try {
          const r = await reader.read();
          idle();
          if (abort.signal.aborted) {
            stop();
            controller.error(reason(abort.signal.reason));
          } else if (r.done) {
            stop();
            controller.close();
          } else controller.enqueue(r.value);
        } catch (e) {
          const why = reason(e);
          stop();
          controller.error(why);
        }
      },
      cancel(why) {
        stop();
        return reader.cancel(why);
      },
    }, { highWaterMark: 0 });
    return new Response(body, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
}
