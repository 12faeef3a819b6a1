/**
 * Bearer-token authorisation for writes. With no token configured, writes are refused (403);
 * without a valid `Authorization: Bearer <token>` they get 401. Tokens are compared in constant
 * time.
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HttpError } from "../../http/http_error.ts";
import type { AppEnv } from "../context.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * The middleware, for the write routes only.
 *
 * @example
 * ```ts
 * app.put("/v1/models/:org/:name", requireToken("s3cret"), handler);
 * ```
 */
export function requireToken(token: string | null): MiddlewareHandler<AppEnv> {
  const expected = token === null ? null : digest(token);
  return async (c, next) => {
    if (expected === null) {
      throw new HttpError(
        403,
        "writes_disabled",
        "uploads and deletes are disabled: start the server with --token or TESSERA_TOKEN",
      );
    }
    const m = /^Bearer\s+(.+)$/i.exec(c.req.header("Authorization") ?? "");
    if (!m || !timingSafeEqual(digest(m[1].trim()), expected)) {
      throw new HttpError(
        401,
        "unauthorized",
        "a valid Authorization: Bearer <token> is required",
        {
          "WWW-Authenticate": 'Bearer realm="tessera"',
        },
      );
    }
    await next();
  };
}
