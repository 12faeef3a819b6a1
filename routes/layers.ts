/**
 * Layers: `/v1/models/{org}/{name}/layers/{layer}`, all of a layer's tensors as one valid
 * safetensors file, header first, so a client loads a model layer by layer with the tools it has.
 * A layer whose tensors span shards is read from each shard's container in turn.
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { HttpError } from "../src/http/http_error.ts";
import { bytesRepresentation, type Representation } from "../src/http/representation.ts";
import type { ServerContext } from "../src/server/context.ts";
import { concatRepresentation } from "../src/server/composite.ts";
import { leasedRepresentation } from "../src/server/leased.ts";
import {
  type ApiRoute,
  BYTE_RESPONSES,
  byteRequestHeaders,
  bytesResponse,
  defineRoute,
  modelPathParams,
  rawQuery,
  revisionQuery,
  variantQuery,
} from "../src/server/openapi.ts";
import { cacheControl } from "../src/server/repo_files.ts";
import {
  chooseVariant,
  layerMetadata,
  layerPart,
  layerRepresentation,
  OCTET,
  rawRepresentation,
  safetensorsHeader,
  tensorRepresentation,
} from "../src/server/representations.ts";
import { requestedVariant, resolveRevision } from "../src/server/variant_revisions.ts";
import { respond } from "../src/server/respond.ts";
import type { LayerView } from "../src/server/commit_views.ts";

/**
 * The layer as one representation: from its one container, or from each shard's in turn; under
 * `variant`, dequantised, or with `raw` each tensor the variant stores lossy as its payloads.
 */
async function layerOf(
  ctx: ServerContext,
  layer: LayerView,
  variant: string | undefined,
  raw: boolean,
): Promise<Representation> {
  const files = new Set(layer.tensors.map((r) => r.file));
  const tensors = layer.tensors.map((r) => r.tensor);
  if (files.size === 1) {
    const [file] = files;
    return await leasedRepresentation(
      ctx,
      file.file.container.sha256,
      (lease) => layerRepresentation(lease, ctx.chunks, tensors[0].layer, tensors, variant, raw),
    );
  }
  const choices = tensors.map((t) => variant ? chooseVariant(t, variant) : undefined);
  const parts: Representation[] = [];
  try {
    for (const [i, r] of layer.tensors.entries()) {
      const v = choices[i];
      parts.push(
        await leasedRepresentation(
          ctx,
          r.file.file.container.sha256,
          (lease) =>
            raw && v?.encoding
              ? rawRepresentation(lease, ctx.chunks, r.tensor, v, null)
              : tensorRepresentation(lease, ctx.chunks, r.tensor, v),
        ),
      );
    }
  } catch (e) {
    for (const p of parts) p.release?.();
    throw e;
  }
  const metadata = layerMetadata(
    [...files][0].index.metadata,
    variant,
    raw ? tensors.map((t, i) => ({ t, e: choices[i]?.encoding ?? null })) : null,
  );
  const head = safetensorsHeader(
    tensors.map((t, i) => layerPart(t, choices[i], raw).entry),
    metadata,
  );
  const tag = createHash("sha256").update(`layer\0${layer.key}`);
  if (variant) tag.update(`\0${variant}${raw ? "\0raw" : ""}`);
  for (const p of parts) tag.update(`\0${p.etag}`);
  return concatRepresentation([bytesRepresentation(head, OCTET, '""'), ...parts], {
    contentType: OCTET,
    etag: `"${tag.digest("hex")}"`,
    headers: {
      "X-Tessera-Layer": encodeURIComponent(layer.key),
      ...(variant ? { "X-Tessera-Variant": variant } : {}),
    },
  });
}

/**
 * The routes.
 *
 * @example
 * ```ts
 * mountRoutes(app, ctx, layerRoutes(ctx));
 * ```
 */
export function layerRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "get",
      path: "/v1/models/{org}/{name}/layers/{layer}",
      rest: "layer",
      tag: "layers",
      summary: "One layer's tensors as a safetensors file (header padded to 8 bytes, tensors in " +
        "load order, the original __metadata__), Content-Length known up front",
      description: "Layer keys are the manifest's: for a model in a subfolder, prefixed with " +
        "the folder. A layer split across shards is served as one file. With variant=<name> " +
        "its tensors are that variant's, dequantised (__metadata__ gains tessera.variant); with " +
        "raw=1 each tensor the variant stores lossy is a U8 vector of its payloads, and " +
        "__metadata__'s tessera.layouts gives, per such tensor, its dtype, shape, layout (kind, " +
        "view, tile, params) and chunk payload lengths.",
      params: modelPathParams.extend({
        layer: z.string().openapi({ description: "layer key, URL-encoded" }),
      }),
      query: z.object({ revision: revisionQuery, variant: variantQuery, raw: rawQuery }),
      headers: byteRequestHeaders,
      responses: { 200: bytesResponse("safetensors bytes"), ...BYTE_RESPONSES },
      handler: async (c, { params, query }) => {
        const rev = await resolveRevision(ctx, params.org, params.name, query.revision);
        const view = await ctx.views.get(rev.id, rev.source);
        const variant = requestedVariant(rev, view, query.variant) ?? undefined;
        if (query.raw && variant === undefined) {
          throw new HttpError(400, "bad_query", "raw=1 needs a variant (variant=<name>)");
        }
        const layer = view.layers.find((l) => l.key === params.layer);
        if (!layer) {
          throw new HttpError(
            404,
            "layer_not_found",
            `${rev.id}@${rev.revision} has no layer ${JSON.stringify(params.layer)}`,
          );
        }
        const rep = await layerOf(ctx, layer, variant, query.raw === true);
        const headers = {
          ...rep.headers,
          "Cache-Control": cacheControl(rev),
          "X-Repo-Commit": rev.commit.id,
        };
        return respond(ctx, c, { ...rep, headers });
      },
    }),
  ];
}
