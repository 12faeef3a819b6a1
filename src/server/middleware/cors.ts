/**
 * CORS for any origin: every response gets `Access-Control-Allow-Origin: *` and the exposed
 * headers; a preflight (`OPTIONS`) gets 204 with the allowed methods and request headers.
 *
 * Written here rather than taken from `hono/cors` because that one sets its headers on `c.res`
 * before the handler runs, which makes Hono build every handler's response a second time (a new
 * `Response` over the first one's `body`, then a copy of every header): reading `body` turns an
 * in-memory body into a stream, so each small response went out through a stream resource instead
 * of the runtime's one-call path. Under the soak's load (64 connections) that was about a fifth of
 * the server's time per request. A response made by `respond` is made with these headers (they go
 * into the request's track); any other gets them once it exists.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context.ts";

/** What {@link cors} sends. */
export interface CorsOptions {
  /** `Access-Control-Allow-Methods` of a preflight. */
  readonly allowMethods: readonly string[];
  /** `Access-Control-Allow-Headers` of a preflight. */
  readonly allowHeaders: readonly string[];
  /** `Access-Control-Expose-Headers` of every response. */
  readonly exposeHeaders: readonly string[];
  /** `Access-Control-Max-Age` of a preflight, in seconds. */
  readonly maxAge: number;
}

/**
 * The middleware.
 *
 * @example
 * ```ts
 * app.use("*", cors({ allowMethods: ["GET"], allowHeaders: [], exposeHeaders: [], maxAge: 600 }));
 * ```
 */
export function cors(options: CorsOptions): MiddlewareHandler<AppEnv> {
  const expose = options.exposeHeaders.join(",");
  const preflight: [string, string][] = [
    ["Access-Control-Allow-Origin", "*"],
    ...(expose ? [["Access-Control-Expose-Headers", expose] as [string, string]] : []),
    ["Access-Control-Max-Age", String(options.maxAge)],
    ["Access-Control-Allow-Methods", options.allowMethods.join(",")],
    ["Access-Control-Allow-Headers", options.allowHeaders.join(",")],
    ["Vary", "Access-Control-Request-Headers"],
  ];
  const always: [string, string][] = [
    ["Access-Control-Allow-Origin", "*"],
    ...(expose ? [["Access-Control-Expose-Headers", expose] as [string, string]] : []),
  ];
  return async (c, next) => {
    if (c.req.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: preflight });
    }
    const track = c.get("track");
    track?.headers.push(...always);
    await next();
    if (track && c.res === track.built) return; // made with them
    const headers = c.res.headers;
    for (const [name, value] of always) headers.set(name, value);
  };
}
