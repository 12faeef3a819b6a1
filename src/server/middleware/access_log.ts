/**
 * Access log and request metrics: one line per request (method, path, status, bytes, ms) once the
 * response is over, which for a streamed body is when its last byte is sent or it is cut.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv, RequestTrack, ServerContext } from "../context.ts";

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
          `${new Date().toISOString()} ${c.req.method} ${url.pathname}${url.search} ${status} ` +
            `${bytes}B ${ms.toFixed(1)}ms${note}`,
        );
      }
    };
    const track: RequestTrack = {
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
      if (!track.streaming && c.res.body && !c.res.headers.has("Content-Length")) {
        // A small fixed body (JSON, text): give it a Content-Length, and the log its size.
        const bytes = new Uint8Array(await c.res.arrayBuffer());
        const res = new Response(bytes, c.res);
        res.headers.set("Content-Length", String(bytes.length));
        c.res = undefined;
        c.res = res;
      }
      if (!track.streaming) {
        const length = Number(c.res.headers.get("Content-Length") ?? 0);
        const bytes = c.req.method === "HEAD" || !c.res.body ? 0 : length;
        if (bytes > 0) ctx.metrics.bytesOut(track.route, bytes);
        finish(c.res.status, bytes);
      }
    }
  };
}
