/**
 * Models: the list, one model's branches, the manifest, and the single-file upload and the branch
 * delete (each a commit or a ref change of the repo).
 * @module
 */
import { z } from "@hono/zod-openapi";
import { HttpError } from "../src/http/http_error.ts";
import type { ServerContext } from "../src/server/context.ts";
import { manifestBody } from "../src/server/manifest.ts";
import {
  type ApiRoute,
  binaryBody,
  BYTE_RESPONSES,
  defineRoute,
  emptyResponse,
  jsonResponse,
  modelPathParams,
  modeQuery,
  revisionQuery,
  titleQuery,
  writeRequestHeaders,
} from "../src/server/openapi.ts";
import { cacheControl } from "../src/server/repo_files.ts";
import { uploadLimits, writeExpectation } from "../src/server/request_params.ts";
import { respond } from "../src/server/respond.ts";
import { bytesRepresentation } from "../src/http/representation.ts";
import { resolveRevision } from "../src/server/variant_revisions.ts";
import {
  errorSchema,
  manifestSchema,
  modelListingSchema,
  modelListSchema,
  publishResultSchema,
} from "../src/server/schemas.ts";
import { fileAt } from "../src/store/commit.ts";
import { ORIGINAL_FILE } from "../src/store/names.ts";

/**
 * The routes.
 *
 * @example
 * ```ts
 * mountRoutes(app, ctx, modelRoutes(ctx));
 * ```
 */
export function modelRoutes(ctx: ServerContext): ApiRoute[] {
  const { store } = ctx;
  return [
    defineRoute({
      method: "get",
      path: "/v1/models",
      tag: "models",
      summary: "Models with at least one branch",
      responses: { 200: jsonResponse(modelListSchema, "the list") },
      handler: async (c) => {
        const models = (await store.reader.list()).map((m) => ({
          id: m.id,
          revisions: [...m.branches],
        }));
        return c.json(modelListSchema.parse({ models }));
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/models/{org}/{name}",
      tag: "models",
      summary: "One model and its branches",
      params: modelPathParams,
      responses: { 200: jsonResponse(modelListingSchema, "the model") },
      handler: async (c, { params }) => {
        const { refs } = await store.reader.refs(params.org, params.name);
        const revisions = Object.keys(refs.branches).sort();
        return c.json(modelListingSchema.parse({ id: `${params.org}/${params.name}`, revisions }));
      },
    }),
    defineRoute({
      method: "put",
      path: "/v1/models/{org}/{name}",
      tag: "models",
      auth: true,
      summary: "Upload a safetensors file as the branch's model.safetensors: streamed to disk, " +
        "packed (best mode unless ?mode=fast), verified, then committed atomically",
      description: "Limited to --max-upload-mb (413). A malformed file gets 400 with its " +
        "SafetensorsError kind. Readers keep the old tree until the commit is complete. " +
        "If-Match / If-None-Match compare with model.safetensors's ETag (its SHA-256): 412 when " +
        "they do not hold. Files of several paths go up in one commit with uploads and commits.",
      params: modelPathParams,
      query: z.object({
        revision: revisionQuery,
        mode: modeQuery,
        message: titleQuery,
      }),
      headers: writeRequestHeaders,
      body: binaryBody("the safetensors file"),
      responses: {
        200: jsonResponse(publishResultSchema, "replaced"),
        201: jsonResponse(publishResultSchema, "created"),
        412: jsonResponse(errorSchema, "the precondition does not hold"),
        413: jsonResponse(errorSchema, "over the upload limit"),
      },
      handler: async (c, { params, query }) => {
        const expect = writeExpectation(c, ORIGINAL_FILE);
        const limits = uploadLimits(c, ctx.config.maxUploadBytes, ctx.config.timeoutMs);
        // A stale client learns of its precondition before sending gigabytes; it counts again
        // under the repo's lock.
        if (expect) {
          const rev = await store.reader.resolve(params.org, params.name, query.revision)
            .catch(() => null);
          const cur = rev && fileAt(rev.commit, ORIGINAL_FILE);
          if (!expect.allows(cur ? cur.sha256 : null)) {
            throw new HttpError(
              412,
              "precondition_failed",
              `${params.org}/${params.name}: model.safetensors is ${
                cur ? `at ${cur.sha256}` : "absent"
              }, which the request's precondition rules out`,
            );
          }
        }
        const staged = await store.receive(c.req.raw.body, {
          ...limits,
          mode: query.mode ?? "best",
          requireSafetensors: true,
        });
        const r = await store.publish(params.org, params.name, query.revision ?? null, {
          title: query.message ?? `Upload ${ORIGINAL_FILE}`,
          files: [{ path: ORIGINAL_FILE, content: staged }],
          expect,
        });
        const f = fileAt(r.commit, ORIGINAL_FILE)!;
        const created = r.newPaths.includes(ORIGINAL_FILE);
        return c.json(
          publishResultSchema.parse({
            id: `${params.org}/${params.name}`,
            revision: query.revision ?? "main",
            commit: r.commit.id,
            created,
            sha256: f.sha256,
            size: f.size,
            containerSha256: f.container!.sha256,
            containerSize: f.container!.size,
          }),
          created ? 201 : 200,
        );
      },
    }),
    defineRoute({
      method: "delete",
      path: "/v1/models/{org}/{name}",
      tag: "models",
      auth: true,
      summary: "Delete a branch (the model with its last branch)",
      description: "The commits only that branch reached stop resolving, and their contents are " +
        "removed. If-Match compares with model.safetensors's ETag.",
      params: modelPathParams,
      query: z.object({ revision: revisionQuery }),
      headers: writeRequestHeaders,
      responses: {
        204: emptyResponse("deleted"),
        412: jsonResponse(errorSchema, "the precondition does not hold"),
      },
      handler: async (c, { params, query }) => {
        await store.deleteBranch(
          params.org,
          params.name,
          query.revision ?? null,
          writeExpectation(c, ORIGINAL_FILE),
        );
        return c.body(null, 204);
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/models/{org}/{name}/manifest",
      tag: "models",
      summary: "The manifest: every file, every tensor with its file (dtype, shape, layer, " +
        "sizes, SHA-256, and each variant's size and error), layers in load order across " +
        "shards, each container's location, and the variants with their revisions and the " +
        "manager's statistics",
      params: modelPathParams,
      query: z.object({ revision: revisionQuery }),
      responses: { 200: jsonResponse(manifestSchema, "the manifest"), ...BYTE_RESPONSES },
      handler: async (c, { params, query }) => {
        const rev = await resolveRevision(ctx, params.org, params.name, query.revision);
        // The view of the stored commit: a variant revision presents the same indexes.
        const body = manifestBody(rev, await ctx.views.get(rev.id, rev.source));
        return respond(
          ctx,
          c,
          bytesRepresentation(body.bytes, "application/json; charset=utf-8", `"${body.sha256}"`, {
            sha256: body.sha256,
            headers: { "Cache-Control": cacheControl(rev), "X-Repo-Commit": rev.commit.id },
            shared: true, // held by the manifest cache: sent without a copy per response
          }),
        );
      },
    }),
  ];
}
