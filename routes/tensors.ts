/**
 * Tensors and tiles, decoded: `/v1/models/{org}/{name}/tensors/{tensor}`, with `?rows=&cols=` or
 * `?slice=` for a tile.
 * @module
 */
import { Hono } from "hono";
import { tensorOf } from "../src/container/read.ts";
import type { AppEnv, ServerContext } from "../src/server/context.ts";
import { BYTE_PARAMS, BYTE_RESPONSES, P, type Paths } from "../src/server/openapi.ts";
import { tensorRepresentation, tileRepresentation } from "../src/server/representations.ts";
import { modelParams, restOfPath } from "../src/server/request_params.ts";
import { respond } from "../src/server/respond.ts";
import { selectTile } from "../src/server/selection.ts";

/** OpenAPI description of these routes. */
export const tensorPaths: Paths = {
  "/v1/models/{org}/{name}/tensors/{tensor}": {
    get: {
      summary: "One tensor decoded (raw bytes as in the original file), or a tile of it",
      description: "The tensor name is URL-encoded (encodeURIComponent); a name's `/` may also " +
        "be sent as is. ETag and Repr-Digest are the tensor's SHA-256. X-Tessera-Dtype gives the " +
        "dtype and X-Tessera-Shape the shape of the bytes sent (comma-separated, empty for a " +
        "scalar). A tile is selected with rows=a:b&cols=c:d over " +
        "the matrix view [product of leading dims, last dim], or slice=a:b,c:d,... with one " +
        "Python-style slice per dimension; it is returned row-major, and its ETag hashes the " +
        "tensor's SHA-256 with the selection.",
      tag: "tensors",
      params: [
        P.org,
        P.name,
        { name: "tensor", in: "path", description: "tensor name, URL-encoded", required: true },
        P.revision,
        { name: "rows", in: "query", description: "a:b rows of the matrix view" },
        { name: "cols", in: "query", description: "c:d columns of the matrix view" },
        { name: "slice", in: "query", description: "a:b,c:d,... one slice per dimension" },
        ...BYTE_PARAMS,
      ],
      responses: { "200": { description: "raw bytes", body: "binary" }, ...BYTE_RESPONSES },
    },
  },
};

/**
 * The routes.
 *
 * @example
 * ```ts
 * app.route("/", tensorRoutes(ctx));
 * ```
 */
export function tensorRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/v1/models/:org/:name/tensors/:tensor{.+}", async (c) => {
    const { org, name, revision } = modelParams(c);
    const tensorName = restOfPath(c.req.url, 5);
    const ref = await ctx.store.resolve(org, name, revision);
    const lease = await ctx.store.leases.acquire(ref.containerPath);
    let rep;
    try {
      const t = tensorOf(lease.container, tensorName);
      const sel = selectTile(t, new URL(c.req.url).searchParams);
      rep = sel === null
        ? tensorRepresentation(lease, ctx.chunks, t)
        : tileRepresentation(lease, ctx.chunks, t, sel);
    } catch (e) {
      lease.release();
      throw e;
    }
    return respond(ctx, c, rep);
  });
  return app;
}
