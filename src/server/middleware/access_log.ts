/**
 * Access log, request ids and request metrics: every response carries `X-Request-Id` (the
 * client's, when it sent a well-formed one, else a new UUID), and one line per request (time,
 * id, method, path, status, bytes, ms) is logged once the response is over, which for a streamed
 * body is when its last byte is sent or it is cut.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv, RequestTrack, ServerContext } from "../context.ts";

/** A request id a client may choose: letters, digits and `._:-`, at most 128. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The middleware; install it first.
 *
 * @example
 * ```ts
 * app.use("*", accessLog(ctx));
 * ```
 */
export function accessLog(ctx: ServerContext): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const t0 = performance.now();
    let done = false;
    const finish = (status: number, bytes: number, note = "") => {
      if (done) return;
      done = true;
      const ms = performance.now() - t0;
      ctx.metrics.request(track.route, c.req.method, status, ms / 1000);
      ctx.metrics.inFlight(-1);
      if (!ctx.config.quiet) {
        const url = new URL(c.req.url);
        ctx.log(
          `${new Date().toISOString()} ${track.id} ${c.req.method} ${url.pathname}${url.search} ` +
            `${status} ` +
            `${bytes}B ${ms.toFixed(1)}ms${note}`,
        );
      }
    };
    const given = c.req.header("X-Request-Id");
    const id = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    const track: RequestTrack = {
      id,
      headers: [["X-Request-Id", id]],
      route: "unmatched",
      bytes: 0,
      streaming: false,
      timedOut: false,
      end(how, error) {
        if (how === "error") ctx.metrics.streamFailure(track.route);
        const note = how === "done"
          ? ""
          : how === "cancel"
          ? " (client went away)"
          : ` (body cut: ${(error as Error)?.message ?? error})`;
        finish(c.res.status, track.bytes, note);
      },
    };
    c.set("track", track);
    ctx.metrics.inFlight(1);
    try {
      await next();
    } finally {
      track.route = routePath(c) || "unmatched";
      // A response `respond` built has the id already, and told its body's length. Any other
      // gets them here. Its headers are read only then: reading a response's headers makes the
      // runtime build them again when it sends it.
      if (c.res !== track.built) {
        c.res.headers.set("X-Request-Id", track.id);
        // `c.res.body` is not read unless needed: reading it turns an in-memory body into a
        // stream, which the runtime then sends through a stream resource instead of in one call.
        if (!track.streaming && !c.res.headers.has("Content-Length") && c.res.body) {
          // A small fixed body (JSON, text): give it a Content-Length, and the log its size.
          const bytes = new Uint8Array(await c.res.arrayBuffer());
          const res = new Response(bytes, c.res);
          res.headers.set("Content-Length", String(bytes.length));
          c.res = undefined;
          c.res = res;
        }
        // A response without a body (HEAD, 304, 204) carries no Content-Length of its own.
        if (!track.streaming) {
          track.bytes = c.req.method === "HEAD"
            ? 0
            : Number(c.res.headers.get("Content-Length") ?? 0);
        }
      }
      if (!track.streaming) {
        if (track.bytes > 0) ctx.metrics.bytesOut(track.route, track.bytes);
        finish(c.res.status, track.bytes);
      }
    }
  };
}
