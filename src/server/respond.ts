/**
 * Sends a representation from a handler: wires the body into the access log and metrics, applies
 * the idle timeout, and logs a body cut short by a server fault (a corrupt chunk, say). The
 * preconditions, `If-Modified-Since` against a `Last-Modified` header included, are
 * {@link sendRepresentation}'s (RFC 9110 §13.2.2 order).
 * @module
 */
import { hashedBytesRepresentation, type Representation } from "../http/representation.ts";
import { sendRepresentation } from "../http/send.ts";
import { routePath } from "hono/route";
import type { AppContext, ServerContext } from "./context.ts";

/** A JSON body as a representation: ETag its SHA-256, so clients can revalidate it. */
export function jsonRepresentation(
  body: unknown,
  headers?: Record<string, string>,
): Representation {
  return hashedBytesRepresentation(
    new TextEncoder().encode(JSON.stringify(body)),
    "application/json; charset=utf-8",
    headers,
  );
}

/**
 * The response for `rep`, which it takes ownership of.
 *
 * @example
 * ```ts
 * app.get("/x", (c) => respond(ctx, c, bytesRepresentation(bytes, "text/plain", etag)));
 * ```
 */
export async function respond(
  ctx: ServerContext,
  c: AppContext,
  rep: Representation,
): Promise<Response> {
  const track = c.get("track");
  // A streamed body may send its first bytes before the access log learns the route.
  track.route = routePath(c) || track.route;
  if (track.timedOut) {
    rep.release?.();
    return new Response(null, { status: 503 });
  }
  const res = await sendRepresentation(c.req.raw, rep, {
    headers: track.headers,
    onWhole: (n) => {
      track.bytes = n;
    },
    idleTimeoutMs: ctx.config.timeoutMs,
    onStream: () => {
      track.streaming = true;
    },
    onChunk: (n) => {
      track.bytes += n;
      ctx.metrics.bytesOut(track.route, n);
    },
    onEnd: (how, error) => {
      if (how === "error") {
        const e = error as Error;
        ctx.log(
          `ERROR ${c.req.method} ${new URL(c.req.url).pathname}: response cut after ` +
            `${track.bytes} bytes: ${e?.name ?? "Error"}: ${e?.message ?? error}`,
        );
      }
      track.end(how, error);
    },
  });
  if (track.timedOut) {
    // The client already got its 503; drop this late response and what it holds.
    await res.body?.cancel();
    return new Response(null, { status: 503 });
  }
  track.built = res;
  return res;
}
