/**
 * Operations: `/healthz`, `/metrics` and `/openapi.json`.
 * @module
 */
import { Hono } from "hono";
import type { AppEnv, ServerContext } from "../src/server/context.ts";
import { openApiDocument, type Paths } from "../src/server/openapi.ts";
import { healthSchema } from "../src/server/schemas.ts";

/** OpenAPI description of these routes. */
export const healthPaths: Paths = {
  "/healthz": {
    get: {
      summary: "Liveness: answers without touching the models folder",
      tag: "operations",
      responses: { "200": { description: "alive", body: "Health" } },
    },
  },
  "/metrics": {
    get: {
      summary: "Prometheus metrics: requests by route and status, bytes out, decode MB/s, cache",
      tag: "operations",
      responses: { "200": { description: "text exposition format 0.0.4", body: "text" } },
    },
  },
  "/openapi.json": {
    get: {
      summary: "This document",
      tag: "operations",
      responses: { "200": { description: "OpenAPI 3.0 document" } },
    },
  },
};

/**
 * The routes; `allPaths` is the whole API, for `/openapi.json`.
 *
 * @example
 * ```ts
 * app.route("/", healthRoutes(ctx, paths));
 * ```
 */
export function healthRoutes(ctx: ServerContext, allPaths: Paths): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let doc: string | null = null;
  app.get("/healthz", (c) =>
    c.json(healthSchema.parse({
      status: "ok",
      uptimeSeconds: (Date.now() - ctx.startedAt) / 1000,
      openContainers: ctx.store.leases.open,
      workers: ctx.pool.size,
    })));
  app.get("/metrics", (c) => {
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return c.body(
      ctx.metrics.render(ctx.cache.figures(), {
        tessera_open_containers: ctx.store.leases.open,
        tessera_decode_workers: ctx.pool.size,
      }),
    );
  });
  app.get("/openapi.json", (c) => {
    doc ??= JSON.stringify(openApiDocument(allPaths));
    c.header("Content-Type", "application/json; charset=utf-8");
    return c.body(doc);
  });
  return app;
}
