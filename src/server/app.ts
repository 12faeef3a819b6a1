/**
 * Builds the app from the route modules in `routes/`, each a list of route definitions (see
 * `openapi.ts`), with the cross-cutting middleware: access log, request ids and metrics, CORS,
 * refusing writes while shutting down, header timeout, JSON errors and 404s.
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { fileRoutes } from "../../routes/files.ts";
import { healthRoutes } from "../../routes/health.ts";
import { hfRoutes } from "../../routes/hf.ts";
import { layerRoutes } from "../../routes/layers.ts";
import { modelRoutes } from "../../routes/models.ts";
import { storeRoutes } from "../../routes/store.ts";
import { tensorRoutes } from "../../routes/tensors.ts";
import { uploadRoutes } from "../../routes/uploads.ts";
import { webRoutes } from "../../routes/pages.tsx";
import { firstChunkGate } from "../edge/first_chunk.ts";
import { mountPages, prefersHtml } from "../web/page_route.ts";
import { HttpError } from "../http/http_error.ts";
import type { AppEnv, ServerContext } from "./context.ts";
import { errorAnswer, errorResponse } from "./error_response.ts";
import { accessLog } from "./middleware/access_log.ts";
import { cors } from "./middleware/cors.ts";
import { refuseWritesOnShutdown } from "./middleware/shutdown.ts";
import { headerTimeout } from "./middleware/timeout.ts";
import { type ApiRoute, mountRoutes, openApiDocument } from "./openapi.ts";

/** Headers a browser client may read. */
export const EXPOSED_HEADERS = [
  "Accept-Ranges",
  "Content-Length",
  "Content-Range",
  "Content-Digest",
  "Content-Disposition",
  "Repr-Digest",
  "ETag",
  "Last-Modified",
  "Link",
  "X-Request-Id",
  "X-Tessera-Dtype",
  "X-Tessera-Shape",
  "X-Tessera-Tensor",
  "X-Tessera-Selection",
  "X-Tessera-Layer",
  "X-Repo-Commit",
  "X-Linked-Etag",
  "X-Linked-Size",
  "X-Error-Code",
  "X-Error-Message",
];

/** Request headers a browser app may send: every documented call, conditional writes included. */
export const ALLOWED_HEADERS = [
  "Range",
  "If-Range",
  "If-Match",
  "If-None-Match",
  "If-Modified-Since",
  "If-Unmodified-Since",
  "Want-Content-Digest",
  "Want-Repr-Digest",
  "Authorization",
  "Content-Type",
  "X-Request-Id",
];

/** Every route of the server, in the order they are matched. */
export function apiRoutes(ctx: ServerContext, document: () => Record<string, unknown>): ApiRoute[] {
  return [
    ...healthRoutes(ctx, document),
    ...modelRoutes(ctx),
    ...uploadRoutes(ctx),
    ...tensorRoutes(ctx),
    ...layerRoutes(ctx),
    ...fileRoutes(ctx),
    ...storeRoutes(ctx),
    // `/{org}/{name}/resolve/…` would catch much: last.
    ...hfRoutes(ctx),
  ];
}

/**
 * The app for `ctx`.
 *
 * @example
 * ```ts
 * const res = await createApp(ctx).request("/healthz");
 * ```
 */
export function createApp(ctx: ServerContext): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.use("*", accessLog(ctx));
  app.use(
    "*",
    cors({
      allowMethods: ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"],
      allowHeaders: ALLOWED_HEADERS,
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    }),
  );
  app.use("*", refuseWritesOnShutdown(ctx.shutdown));
  app.use("*", headerTimeout(ctx.config.timeoutMs));
  // An edge's bodies come from the origin: their status waits for the first bytes.
  if (ctx.edge) app.use("*", firstChunkGate());
  mountRoutes(app, ctx, apiRoutes(ctx, () => openApiDocument(app)));
  // The web pages (not part of the API document) after the API, whose paths are more specific.
  const web = webRoutes(ctx);
  mountPages(app, ctx, web.pages, web.errorPage);
  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    if (prefersHtml(c.req.raw)) {
      return c.html(web.errorPage(c, 404, "not_found", `no page at ${path}`), 404);
    }
    return errorResponse(
      errorAnswer(new HttpError(404, "not_found", `no route for ${path}`)),
      c.req.method === "HEAD",
    );
  });
  app.onError((e, c) => {
    const a = errorAnswer(e);
    if (a.fault) {
      ctx.log(
        `ERROR ${c.req.method} ${new URL(c.req.url).pathname}: ${(e as Error)?.stack ?? e}`,
      );
    }
    return errorResponse(a, c.req.method === "HEAD");
  });
  return app;
}
