/**
 * Bounds the time to response headers. A handler still running at the deadline gets 503 and its
 * eventual response is discarded (its body cancelled, which releases what it holds). Uploads are
 * exempt: their bodies are bounded by the idle timeout instead.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { HttpError } from "../../http/http_error.ts";
import type { AppEnv } from "../context.ts";

/**
 * The middleware.
 *
 * @example
 * ```ts
 * app.use("*", headerTimeout(30_000));
 * ```
 */
export function headerTimeout(ms: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method === "PUT" || ms <= 0) return await next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms);
    });
    const work = next().then(() => "done" as const);
    try {
      const r = await Promise.race([work, deadline]);
      if (r === "timeout") {
        c.get("track").timedOut = true;
        work.catch(() => {});
        throw new HttpError(503, "timeout", `no response within ${ms} ms`);
      }
    } finally {
      clearTimeout(timer);
    }
  };
}
