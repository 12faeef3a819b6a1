/**
 * Files of a revision: any file (`/files/{path}`: GET, and PUT and DELETE behind the token, each
 * a one-file commit) and the raw container of a safetensors file (`/container`).
 * @module
 */
import { z } from "@hono/zod-openapi";
import { HttpError } from "../src/http/http_error.ts";
import type { ServerContext } from "../src/server/context.ts";
import { leasedRepresentation } from "../src/server/leased.ts";
import {
  type ApiRoute,
  binaryBody,
  BYTE_RESPONSES,
  byteRequestHeaders,
  bytesResponse,
  defineRoute,
  emptyResponse,
  jsonResponse,
  modelPathParams,
  modeQuery,
  revisionQuery,
  titleQuery,
  writeRequestHeaders,
} from "../src/server/openapi.ts";
import { cacheControl, fileRepresentation } from "../src/server/repo_files.ts";
import { containerRepresentation } from "../src/server/representations.ts";
import { uploadLimits, writeExpectation } from "../src/server/request_params.ts";
import { respond } from "../src/server/respond.ts";
import { resolveRevision } from "../src/server/variant_revisions.ts";
import { errorSchema, fileResultSchema } from "../src/server/schemas.ts";
import { fileAt } from "../src/store/commit.ts";
import { fileNotFound, StoreError } from "../src/store/errors.ts";
import { checkRepoPath } from "../src/store/names.ts";
import { fileEtag } from "../src/store/publish.ts";

const fileParams = modelPathParams.extend({
  path: z.string().openapi({ description: "path in the repo; / may be sent as is" }),
});

/**
 * The routes.
 *
 * @example
 * ```ts
 * mountRoutes(app, ctx, fileRoutes(ctx));
 * ```
 */
export function fileRoutes(ctx: ServerContext): ApiRoute[] {
  const { store } = ctx;
  return [
    defineRoute({
      method: "get",
      path: "/v1/models/{org}/{name}/container",
      tag: "files",
      summary: "The raw .tsr container of a safetensors file, for clients that decode locally " +
        "(head: 64 bytes)",
      description: "ETag and Repr-Digest are the container's SHA-256. `file` names the " +
        "safetensors file; it may be left out when the revision has only one.",
      params: modelPathParams,
      query: z.object({
        revision: revisionQuery,
        file: z.string().optional().openapi({ description: "path of the safetensors file" }),
      }),
      headers: byteRequestHeaders,
      responses: {
        200: bytesResponse("container bytes", "application/vnd.tessera.container"),
        ...BYTE_RESPONSES,
      },
      handler: async (c, { params, query }) => {
        const rev = await resolveRevision(ctx, params.org, params.name, query.revision);
        const held = rev.commit.files.filter((f) => f.container);
        const f = query.file === undefined
          ? (held.length === 1 ? held[0] : undefined)
          : fileAt(rev.commit, query.file);
        if (!f?.container) {
          if (query.file === undefined && held.length > 1) {
            throw new HttpError(
              400,
              "bad_query",
              `${rev.id}@${rev.revision} has ${held.length} safetensors files: name one with ?file=`,
            );
          }
          throw fileNotFound(rev.id, rev.revision, query.file ?? "*.safetensors");
        }
        const { sha256 } = f.container;
        const headers = { "X-Repo-Commit": rev.commit.id, "Cache-Control": cacheControl(rev) };
        return respond(
          ctx,
          c,
          await leasedRepresentation(
            ctx,
            sha256,
            (l) => containerRepresentation(l, sha256, headers),
          ),
        );
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/models/{org}/{name}/files/{path}",
      rest: "path",
      tag: "files",
      summary: "A file of a revision (safetensors files decoded, byte-identical)",
      params: fileParams,
      query: z.object({ revision: revisionQuery }),
      headers: byteRequestHeaders,
      responses: { 200: bytesResponse("the file"), ...BYTE_RESPONSES },
      handler: async (c, { params, query }) => {
        const rev = await resolveRevision(ctx, params.org, params.name, query.revision);
        const f = fileAt(rev.commit, params.path);
        if (!f) throw fileNotFound(rev.id, rev.revision, params.path);
        return respond(ctx, c, await fileRepresentation(ctx, rev, f));
      },
    }),
    defineRoute({
      method: "put",
      path: "/v1/models/{org}/{name}/files/{path}",
      rest: "path",
      tag: "files",
      auth: true,
      summary: "Store one file as a commit on the branch",
      description: "A safetensors file is packed; it may create the model. Any other file (a " +
        "config, tokenizer or README) goes only into an existing branch (404 otherwise, and " +
        "nothing is stored); `.json` files must be valid JSON. If-Match / If-None-Match compare " +
        "with the file's ETag: its SHA-256 for LFS files, its git blob id for others.",
      params: fileParams,
      query: z.object({
        revision: revisionQuery,
        mode: modeQuery,
        message: titleQuery,
      }),
      headers: writeRequestHeaders,
      body: binaryBody("the file"),
      responses: {
        200: jsonResponse(fileResultSchema, "replaced"),
        201: jsonResponse(fileResultSchema, "created"),
        404: jsonResponse(errorSchema, "no such model or branch (for a file other than a model)"),
        412: jsonResponse(errorSchema, "the precondition does not hold"),
      },
      handler: async (c, { params, query }) => {
        const path = checkRepoPath(params.path);
        const model = path.endsWith(".safetensors");
        if (!model) {
          // Refused before the body is read: no model, no file for it.
          await store.reader.resolve(params.org, params.name, query.revision).then((rev) => {
            if (rev.branch === null) {
              throw new StoreError("bad_name", "files are committed to a branch, not a commit id");
            }
          });
        }
        const staged = await store.receive(c.req.raw.body, {
          ...uploadLimits(c, ctx.config.maxUploadBytes, ctx.config.timeoutMs),
          mode: query.mode ?? "best",
          requireSafetensors: model,
        });
        const r = await store.publish(params.org, params.name, query.revision ?? null, {
          title: query.message ?? `Upload ${path}`,
          files: [{ path, content: staged }],
          requireBranch: staged.container === null,
          expect: writeExpectation(c, path),
        });
        const f = fileAt(r.commit, path)!;
        const created = r.newPaths.includes(path);
        return c.json(
          fileResultSchema.parse({
            id: `${params.org}/${params.name}`,
            revision: query.revision ?? "main",
            commit: r.commit.id,
            file: path,
            created,
            size: f.size,
            sha256: f.sha256,
            etag: `"${fileEtag(f)}"`,
          }),
          created ? 201 : 200,
        );
      },
    }),
    defineRoute({
      method: "delete",
      path: "/v1/models/{org}/{name}/files/{path}",
      rest: "path",
      tag: "files",
      auth: true,
      summary: "Delete one file, as a commit on the branch",
      params: fileParams,
      query: z.object({ revision: revisionQuery }),
      headers: writeRequestHeaders,
      responses: {
        204: emptyResponse("deleted"),
        412: jsonResponse(errorSchema, "the precondition does not hold"),
      },
      handler: async (c, { params, query }) => {
        const path = checkRepoPath(params.path);
        await store.publish(params.org, params.name, query.revision ?? null, {
          title: `Delete ${path}`,
          files: [],
          deletes: [path],
          requireBranch: true,
          expect: writeExpectation(c, path),
        });
        return c.body(null, 204);
      },
    }),
  ];
}
