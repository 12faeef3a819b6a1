/**
 * Tensors and tiles, decoded: `/v1/models/{org}/{name}/tensors/{tensor}`, with `?rows=&cols=` or
 * `?slice=` for a tile, `?variant=` for a variant (dequantised, or with `&raw=1` its payload). A
 * tensor is found in whichever safetensors file of the revision holds it; `?file=` names the file
 * when two hold the same name (two models in subfolders).
 * @module
 */
import { z } from "@hono/zod-openapi";
import { HttpError } from "../src/http/http_error.ts";
import type { ServerContext } from "../src/server/context.ts";
import type { TensorRef } from "../src/server/commit_views.ts";
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
  rawRepresentation,
  tensorRepresentation,
  tileRepresentation,
} from "../src/server/representations.ts";
import { requestedVariant, resolveRevision } from "../src/server/variant_revisions.ts";
import { respond } from "../src/server/respond.ts";
import { selectTile } from "../src/server/selection.ts";

/** The one tensor `name` (of `file`, when given) among `refs`, or a 404 / 400. */
export function pickTensor(
  refs: readonly TensorRef[] | undefined,
  name: string,
  file: string | undefined,
  where: string,
): TensorRef {
  const found = (refs ?? []).filter((r) => file === undefined || r.file.file.path === file);
  if (found.length === 0) {
    throw new HttpError(
      404,
      "tensor_not_found",
      `${where} has no tensor ${JSON.stringify(name)}${file === undefined ? "" : ` in ${file}`}`,
    );
  }
  if (found.length > 1) {
    throw new HttpError(
      400,
      "ambiguous_tensor",
      `${where}: ${found.map((r) => r.file.file.path).join(" and ")} both hold ` +
        `${JSON.stringify(name)}; name one with ?file=`,
    );
  }
  return found[0];
}

/**
 * The routes.
 *
 * @example
 * ```ts
 * mountRoutes(app, ctx, tensorRoutes(ctx));
 * ```
 */
export function tensorRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "get",
      path: "/v1/models/{org}/{name}/tensors/{tensor}",
      rest: "tensor",
      tag: "tensors",
      summary: "One tensor decoded (raw bytes as in the original file), or a tile of it",
      description: "The tensor name is URL-encoded (encodeURIComponent); a name's `/` may also " +
        "be sent as is. ETag and Repr-Digest are the tensor's SHA-256. X-Tessera-Dtype gives the " +
        "dtype and X-Tessera-Shape the shape of the bytes sent (comma-separated, empty for a " +
        "scalar). A tile is selected with rows=a:b&cols=c:d over the matrix view [product of " +
        "leading dims, last dim], or slice=a:b,c:d,... with one Python-style slice per " +
        "dimension; it is returned row-major, and its ETag hashes the tensor's SHA-256 with the " +
        "selection. With variant=<name> the bytes are that variant's, dequantised to the tensor's " +
        "dtype (ETag: their SHA-256; X-Tessera-Variant-Kind: how the variant stores the tensor, " +
        "exact for its original bytes); a tile of them is the same bytes of the whole. With " +
        "raw=1 they are the variant's own payload: the chunks the tensor or tile needs, each " +
        "decoded and checked, back to back; X-Tessera-Variant-Layout gives the layout (kind, " +
        "view, tile, params) and X-Tessera-Variant-Chunks the chunks as index runs with their " +
        "payload lengths (0-62:262144,63:131072).",
      params: modelPathParams.extend({
        tensor: z.string().openapi({ description: "tensor name, URL-encoded" }),
      }),
      query: z.object({
        revision: revisionQuery,
        file: z.string().optional().openapi({
          description: "the safetensors file, when several hold the name",
        }),
        rows: z.string().optional().openapi({ description: "a:b rows of the matrix view" }),
        cols: z.string().optional().openapi({ description: "c:d columns of the matrix view" }),
        slice: z.string().optional().openapi({ description: "a:b,c:d,... one per dimension" }),
        variant: variantQuery,
        raw: rawQuery,
      }),
      headers: byteRequestHeaders,
      responses: { 200: bytesResponse("raw bytes"), ...BYTE_RESPONSES },
      handler: async (c, { params, query }) => {
        const rev = await resolveRevision(ctx, params.org, params.name, query.revision);
        const view = await ctx.views.get(rev.id, rev.source);
        const name = requestedVariant(rev, view, query.variant);
        if (query.raw && name === null) {
          throw new HttpError(400, "bad_query", "raw=1 needs a variant (variant=<name>)");
        }
        const ref = pickTensor(
          view.tensors.get(params.tensor),
          params.tensor,
          query.file,
          `${rev.id}@${rev.revision}`,
        );
        const t = ref.tensor;
        const sel = selectTile(t, new URL(c.req.url).searchParams);
        const v = name === null ? undefined : chooseVariant(t, name);
        const rep = await leasedRepresentation(
          ctx,
          ref.file.file.container.sha256,
          (lease) =>
            query.raw
              ? rawRepresentation(lease, ctx.chunks, t, v!, sel)
              : sel === null
              ? tensorRepresentation(lease, ctx.chunks, t, v)
              : tileRepresentation(lease, ctx.chunks, t, sel, v),
        );
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
