/**
 * Publishing several files at once: each file is uploaded by its SHA-256 (`PUT .../uploads/
 * {sha256}`: checked, packed when it is safetensors, kept for a day), then one commit names them
 * by path (`POST .../commits`) and becomes visible atomically. An interrupted push resumes by
 * asking which contents the server already holds (`GET`/`HEAD .../uploads/{sha256}`).
 * @module
 */
import { z } from "@hono/zod-openapi";
import type { ServerContext } from "../src/server/context.ts";
import {
  type ApiRoute,
  binaryBody,
  defineRoute,
  jsonResponse,
  modelPathParams,
  modeQuery,
  revisionQuery,
} from "../src/server/openapi.ts";
import { uploadLimits } from "../src/server/request_params.ts";
import {
  commitRequestSchema,
  commitResultSchema,
  errorSchema,
  uploadResultSchema,
} from "../src/server/schemas.ts";
import { fileNotFound } from "../src/store/errors.ts";
import type { StoredContent } from "../src/store/ingest.ts";
import { checkBranch } from "../src/store/names.ts";

const uploadParams = modelPathParams.extend({
  sha256: z.string().regex(/^[0-9a-f]{64}$/).openapi({
    description: "lower-case hex SHA-256 of the file",
  }),
});

const uploadBody = (c: StoredContent, existed: boolean) =>
  uploadResultSchema.parse({
    sha256: c.sha256,
    size: c.size,
    stored: c.container ? "container" : "raw",
    ...(c.container && { container: c.container }),
    existed,
  });

/**
 * The routes.
 *
 * @example
 * ```ts
 * mountRoutes(app, ctx, uploadRoutes(ctx));
 * ```
 */
export function uploadRoutes(ctx: ServerContext): ApiRoute[] {
  const { store } = ctx;
  return [
    defineRoute({
      method: "get",
      path: "/v1/models/{org}/{name}/uploads/{sha256}",
      tag: "publish",
      auth: true,
      summary: "Whether the server holds this content (HEAD: 200 or 404)",
      params: uploadParams,
      responses: {
        200: jsonResponse(uploadResultSchema, "held"),
        404: jsonResponse(errorSchema, "not held: upload it"),
      },
      handler: async (c, { params }) => {
        const held = await store.content(params.sha256);
        if (!held) throw fileNotFound(`${params.org}/${params.name}`, "uploads", params.sha256);
        return c.json(uploadBody(held, true));
      },
    }),
    defineRoute({
      method: "put",
      path: "/v1/models/{org}/{name}/uploads/{sha256}",
      tag: "publish",
      auth: true,
      summary: "Upload one file's bytes by its SHA-256, for a later commit",
      description: "The body must have the SHA-256 the URL names (400 digest_mismatch). A " +
        "safetensors file is packed and verified. Uploads that no commit names are kept 24 " +
        "hours. Content the server already holds is not read again (200, existed).",
      params: uploadParams,
      query: z.object({
        mode: modeQuery,
      }),
      body: binaryBody("the file"),
      responses: {
        200: jsonResponse(uploadResultSchema, "already held"),
        201: jsonResponse(uploadResultSchema, "stored"),
        413: jsonResponse(errorSchema, "over the upload limit"),
      },
      handler: async (c, { params, query }) => {
        const r = await store.upload(params.sha256, c.req.raw.body, {
          ...uploadLimits(c, ctx.config.maxUploadBytes, ctx.config.timeoutMs),
          mode: query.mode,
        });
        return c.json(uploadBody(r, r.existed), r.existed ? 200 : 201);
      },
    }),
    defineRoute({
      method: "post",
      path: "/v1/models/{org}/{name}/commits",
      tag: "publish",
      auth: true,
      summary: "Commit uploaded files by path: visible atomically, one commit",
      description: "Concurrent commits to one branch are serialised; readers see the old tree " +
        "or the new one. With parentCommit, 412 when the branch has moved. A path ending in " +
        ".safetensors must name a valid safetensors upload. Creates the model and the branch " +
        "when needed.",
      params: modelPathParams,
      query: z.object({ revision: revisionQuery }),
      body: {
        description: "the commit",
        content: { "application/json": { schema: commitRequestSchema } },
        json: commitRequestSchema,
      },
      responses: {
        200: jsonResponse(commitResultSchema, "nothing changed"),
        201: jsonResponse(commitResultSchema, "committed"),
        409: jsonResponse(errorSchema, "a content is not uploaded (missing_upload)"),
        412: jsonResponse(errorSchema, "parentCommit is not the branch head"),
      },
      handler: async (c, { params, query, body }) => {
        const branch = checkBranch(query.revision ?? null);
        const r = await store.publish(params.org, params.name, branch, {
          title: body.title,
          message: body.message,
          parentCommit: body.parentCommit ?? null,
          replace: body.replace,
          files: body.files.map((f: { path: string; sha256: string }) => ({
            path: f.path,
            content: { sha256: f.sha256 },
          })),
          deletes: body.deletes,
        });
        return c.json(
          commitResultSchema.parse({
            id: `${params.org}/${params.name}`,
            revision: branch,
            commit: r.commit.id,
            parent: r.commit.parent,
            created: r.created,
            files: r.commit.files.length,
          }),
          r.created ? 201 : 200,
        );
      },
    }),
  ];
}
