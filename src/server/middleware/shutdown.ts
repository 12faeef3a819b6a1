/**
 * Refuses writes once the server is shutting down (503 with `Retry-After`), so that no publish
 * starts that the shutdown would interrupt. Reads keep being answered until the listener closes.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { HttpError } from "../../http/http_error.ts";
import type { AppEnv } from "../context.ts";

const WRITES = new Set(["PUT", "POST", "DELETE", "PATCH"]);

/**
 * The middleware.
 *
 * @example
 * ```ts
 * app.use("*", refuseWritesOnShutdown(ctx.shutdown));
 * ```
 */
export function refuseWritesOnShutdown(shutdown: AbortSignal): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (shutdown.aborted && WRITES.has(c.req.method)) {
      throw new HttpError(503, "shutting_down", "the server is shutting down; retry elsewhere", {
        "Retry-After": "5",
      });
    }
    await next();
  };
}
