/**
 * Operations: `/healthz`, `/metrics` and `/openapi.json`.
 * @module
 */
import { z } from "@hono/zod-openapi";
import type { ServerContext } from "../src/server/context.ts";
import { type ApiRoute, defineRoute, jsonResponse } from "../src/server/openapi.ts";
import { healthSchema } from "../src/server/schemas.ts";
import { variantFamilies } from "../src/server/variant_metrics.ts";

/**
 * The routes; `document` gives the whole API's OpenAPI document.
 *
 * @example
 * ```ts
 * mountRoutes(app, ctx, healthRoutes(ctx, () => openApiDocument(app)));
 * ```
 */
export function healthRoutes(
  ctx: ServerContext,
  document: () => Record<string, unknown>,
): ApiRoute[] {
  let doc: string | null = null;
  return [
    defineRoute({
      method: "get",
      path: "/healthz",
      tag: "operations",
      summary: "Liveness: answers without touching the store",
      responses: { 200: jsonResponse(healthSchema, "alive") },
      handler: (c) =>
        c.json(healthSchema.parse({
          status: "ok",
          uptimeSeconds: (Date.now() - ctx.startedAt) / 1000,
          openContainers: ctx.store.leases.open,
          workers: ctx.pool.size,
        })),
    }),
    defineRoute({
      method: "get",
      path: "/metrics",
      tag: "operations",
      summary: "Prometheus metrics: requests by route and status, bytes out, decode MB/s, " +
        "cache, and per model and variant the compression manager's statistics",
      responses: {
        200: {
          description: "text exposition format 0.0.4",
          content: { "text/plain": { schema: z.string() } },
        },
      },
      handler: async (c) => {
        const families = await variantFamilies(ctx);
        c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        return c.body(
          ctx.metrics.render(ctx.cache.figures(), {
            tessera_open_containers: ctx.store.leases.open,
            tessera_decode_workers: ctx.pool.size,
          }, families) + (ctx.edge?.metrics() ?? ""),
        );
      },
    }),
    defineRoute({
      method: "get",
      path: "/openapi.json",
      tag: "operations",
      summary: "This document (OpenAPI 3.1)",
      responses: { 200: jsonResponse(z.record(z.unknown()), "the document") },
      handler: (c) => {
        doc ??= JSON.stringify(document());
        c.header("Content-Type", "application/json; charset=utf-8");
        return c.body(doc);
      },
    }),
  ];
}
