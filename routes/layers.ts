/**
 * Layers: `/v1/models/{org}/{name}/layers/{layer}`, all of a layer's tensors as one valid
 * safetensors file, header first, so a client loads a model layer by layer with the tools it has.
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "../src/http/http_error.ts";
import type { AppEnv, ServerContext } from "../src/server/context.ts";
import { BYTE_PARAMS, BYTE_RESPONSES, P, type Paths } from "../src/server/openapi.ts";
import { layerRepresentation } from "../src/server/representations.ts";
import { modelParams, restOfPath } from "../src/server/request_params.ts";
import { respond } from "../src/server/respond.ts";

/** OpenAPI description of these routes. */
export const layerPaths: Paths = {
  "/v1/models/{org}/{name}/layers/{layer}": {
    get: {
      summary: "One layer's tensors as a safetensors file (header padded to 8 bytes, tensors in " +
        "file order, the original __metadata__), Content-Length known up front",
      tag: "layers",
      params: [
        P.org,
        P.name,
        { name: "layer", in: "path", description: "layer key, URL-encoded", required: true },
        P.revision,
        ...BYTE_PARAMS,
      ],
      responses: { "200": { description: "safetensors bytes", body: "binary" }, ...BYTE_RESPONSES },
    },
  },
};

/**
 * The routes.
 *
 * @example
 * ```ts
 * app.route("/", layerRoutes(ctx));
 * ```
 */
export function layerRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/v1/models/:org/:name/layers/:layer{.+}", async (c) => {
    const { org, name, revision } = modelParams(c);
    const key = restOfPath(c.req.url, 5);
    const ref = await ctx.store.resolve(org, name, revision);
    const lease = await ctx.store.leases.acquire(ref.containerPath);
    const index = lease.container.index;
    if (!index.layers.includes(key)) {
      lease.release();
      throw new HttpError(
        404,
        "layer_not_found",
        `${org}/${name}@${ref.revision} has no layer ${JSON.stringify(key)}`,
      );
    }
    const tensors = index.tensors.filter((t) => t.layer === key);
    let rep;
    try {
      rep = layerRepresentation(lease, ctx.chunks, key, tensors);
    } catch (e) {
      // The representation owns the lease only once it exists.
      lease.release();
      throw e;
    }
    return respond(ctx, c, rep);
  });
  return app;
}
