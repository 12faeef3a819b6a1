/**
 * Files of a revision: the raw container (`/container`) and the sidecar files (`/files/{file}`:
 * GET, and PUT and DELETE behind the token).
 * @module
 */
import { Hono } from "hono";
import type { AppEnv, ServerContext } from "../src/server/context.ts";
import { requireToken } from "../src/server/middleware/auth.ts";
import { BYTE_PARAMS, BYTE_RESPONSES, P, type Paths } from "../src/server/openapi.ts";
import { containerRepresentation } from "../src/server/representations.ts";
import { modelParams, uploadLimits, writeExpectation } from "../src/server/request_params.ts";
import { respond } from "../src/server/respond.ts";
import { sidecarResultSchema } from "../src/server/schemas.ts";
import { sidecarRepresentation } from "../src/server/sidecar.ts";
import { checkSidecar } from "../src/store/names.ts";

const FILE = {
  name: "file",
  in: "path",
  description: "sidecar name: letters, digits, ._- ending in .json, .txt or .md",
  required: true,
} as const;

/** OpenAPI description of these routes. */
export const filePaths: Paths = {
  "/v1/models/{org}/{name}/container": {
    get: {
      summary: "The raw .tsr container, for clients that decode locally (head: 64 bytes)",
      description: "ETag and Repr-Digest are the container file's SHA-256.",
      tag: "files",
      params: [P.org, P.name, P.revision, ...BYTE_PARAMS],
      responses: { "200": { description: "container bytes", body: "binary" }, ...BYTE_RESPONSES },
    },
  },
  "/v1/models/{org}/{name}/files/{file}": {
    get: {
      summary: "A sidecar file (config.json, tokenizer files, …)",
      tag: "files",
      params: [P.org, P.name, FILE, P.revision, ...BYTE_PARAMS],
      responses: { "200": { description: "the file", body: "binary" }, ...BYTE_RESPONSES },
    },
    put: {
      summary: "Store a sidecar file: UTF-8 text, valid JSON for .json, at most 16 MiB",
      tag: "files",
      auth: true,
      description: "If-Match / If-None-Match compare with the file's ETag (its sha256): 412 " +
        "when they do not hold.",
      params: [P.org, P.name, FILE, P.revision, P.ifMatch, P.ifNoneMatchWrite],
      requestBody: "text",
      responses: {
        "200": { description: "replaced", body: "SidecarResult" },
        "201": { description: "created", body: "SidecarResult" },
        "412": { description: "the precondition does not hold", body: "Error" },
      },
    },
    delete: {
      summary: "Delete a sidecar file",
      tag: "files",
      auth: true,
      params: [P.org, P.name, FILE, P.revision, P.ifMatch],
      responses: {
        "204": { description: "deleted" },
        "412": { description: "the precondition does not hold", body: "Error" },
      },
    },
  },
};

/**
 * The routes.
 *
 * @example
 * ```ts
 * app.route("/", fileRoutes(ctx));
 * ```
 */
export function fileRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = ctx;

  app.get("/v1/models/:org/:name/container", async (c) => {
    const { org, name, revision } = modelParams(c);
    const ref = await store.resolve(org, name, revision);
    const lease = await store.leases.acquire(ref.containerPath);
    let sha: string;
    try {
      sha = await store.digests.container(lease.reader);
    } catch (e) {
      lease.release();
      throw e;
    }
    return respond(ctx, c, containerRepresentation(lease, sha));
  });

  app.get("/v1/models/:org/:name/files/:file", async (c) => {
    const { org, name, revision } = modelParams(c);
    const ref = await store.resolve(org, name, revision);
    return respond(ctx, c, await sidecarRepresentation(store, ref, c.req.param("file")));
  });

  const auth = requireToken(ctx.config.token);

  app.put("/v1/models/:org/:name/files/:file", auth, async (c) => {
    const { org, name, revision } = modelParams(c);
    const file = checkSidecar(c.req.param("file"));
    const r = await store.putSidecar(
      org,
      name,
      revision,
      file,
      c.req.raw.body,
      {
        ...uploadLimits(c, ctx.config.maxSidecarBytes, ctx.config.timeoutMs),
        expect: writeExpectation(c),
      },
    );
    return c.json(
      sidecarResultSchema.parse({
        id: `${org}/${name}`,
        revision: revision ?? "main",
        file: r.file,
        created: r.created,
        size: r.size,
        sha256: r.sha256,
      }),
      r.created ? 201 : 200,
    );
  });

  app.delete("/v1/models/:org/:name/files/:file", auth, async (c) => {
    const { org, name, revision } = modelParams(c);
    await store.deleteSidecar(org, name, revision, c.req.param("file"), writeExpectation(c));
    return c.body(null, 204);
  });

  return app;
}
