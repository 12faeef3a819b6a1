/**
 * On an edge, a response's status waits for its first body bytes: a body read from the origin can
 * still fail (origin down: 503 with `Retry-After`; bytes that fail their checksum twice: 502), and
 * only before the status line is sent can the client be told so rather than see a cut connection.
 * The first chunk is what the client waits for anyway, so nothing is delayed; a failure after it
 * (the origin lost in the middle of a long body) still cuts the connection, so a wrong or missing
 * byte is never passed off as a complete body.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../server/context.ts";
import { errorAnswer, errorResponse } from "../server/error_response.ts";

/**
 * The middleware.
 *
 * @example
 * ```ts ignore
 * app.use("*", firstChunkGate());
 * ```
 */
export function firstChunkGate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const res = c.res;
    if (!res.body || c.req.method === "HEAD" || res.status >= 300) return;
    const reader = res.body.getReader();
    let first: ReadableStreamReadResult<Uint8Array>;
    try {
      first = await reader.read();
    } catch (e) {
      reader.cancel().catch(() => {});
      // Unset first: Hono merges the old response's headers (its length, range) into a new one.
      c.res = undefined as unknown as Response;
      c.res = errorResponse(errorAnswer(e));
      return;
    }
    let pending: Uint8Array | null = first.done ? null : first.value;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (pending) {
          controller.enqueue(pending);
          pending = null;
          return;
        }
        if (first.done) return controller.close();
        try {
          const r = await reader.read();
          if (r.done) controller.close();
          else controller.enqueue(r.value);
        } catch (e) {
          controller.error(e);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    c.res = undefined as unknown as Response;
    c.res = new Response(body, { status: res.status, headers: res.headers });
  };
}
