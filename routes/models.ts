/**
 * Models: the list, one model's revisions, the manifest, and upload and delete.
 * @module
 */
import { Hono } from "hono";
import { hashedBytesRepresentation } from "../src/http/representation.ts";
import { HttpError } from "../src/http/http_error.ts";
import type { AppEnv, ServerContext } from "../src/server/context.ts";
import { buildManifest } from "../src/server/manifest.ts";
import { requireToken } from "../src/server/middleware/auth.ts";
import { BYTE_RESPONSES, P, type Paths } from "../src/server/openapi.ts";
import { modelParams, uploadLimits, writeExpectation } from "../src/server/request_params.ts";
import { respond } from "../src/server/respond.ts";
import {
  manifestSchema,
  modelListingSchema,
  modelListSchema,
  publishResultSchema,
} from "../src/server/schemas.ts";

/** OpenAPI description of these routes. */
export const modelPaths: Paths = {
  "/v1/models": {
    get: {
      summary: "Models with at least one revision",
      tag: "models",
      responses: { "200": { description: "the list", body: "ModelList" } },
    },
  },
  "/v1/models/{org}/{name}": {
    get: {
      summary: "One model and its revisions",
      tag: "models",
      params: [P.org, P.name],
      responses: { "200": { description: "the model", body: "ModelList" } },
    },
    put: {
      summary: "Upload a safetensors file: streamed to disk, packed (best mode unless " +
        "?mode=fast), verified, then published atomically",
      description: "Uploads of one model run one after the other. Limited to --max-upload-mb " +
        "(413). A malformed file gets 400 with its SafetensorsError kind. Readers keep the old " +
        "version until the new one is complete. If-Match / If-None-Match compare with the " +
        "revision's model.safetensors ETag (the file's sha256): 412 when they do not hold.",
      tag: "models",
      auth: true,
      params: [
        P.org,
        P.name,
        P.revision,
        {
          name: "mode",
          in: "query",
          description: "fast or best (default)",
        },
        P.ifMatch,
        P.ifNoneMatchWrite,
      ],
      requestBody: "binary",
      responses: {
        "200": { description: "replaced", body: "PublishResult" },
        "201": { description: "created", body: "PublishResult" },
        "412": { description: "the precondition does not hold", body: "Error" },
      },
    },
    delete: {
      summary: "Delete a revision and its sidecar files",
      tag: "models",
      auth: true,
      params: [P.org, P.name, P.revision, P.ifMatch],
      responses: {
        "204": { description: "deleted" },
        "412": { description: "the precondition does not hold", body: "Error" },
      },
    },
  },
  "/v1/models/{org}/{name}/manifest": {
    get: {
      summary: "The manifest: tensors (dtype, shape, layer, raw and stored size, sha-256), " +
        "layers in load order, the file's sha-256, the container's location",
      tag: "models",
      params: [P.org, P.name, P.revision, P.ifNoneMatch],
      responses: { "200": { description: "the manifest", body: "Manifest" }, ...BYTE_RESPONSES },
    },
  },
};

/**
 * The routes.
 *
 * @example
 * ```ts
 * app.route("/", modelRoutes(ctx));
 * ```
 */
export function modelRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = ctx;

  app.get("/v1/models", async (c) => c.json(modelListSchema.parse({ models: await store.list() })));

  app.get("/v1/models/:org/:name", async (c) => {
    const { org, name } = modelParams(c);
    const revisions = await store.revisions(org, name);
    return c.json(modelListingSchema.parse({ id: `${org}/${name}`, revisions }));
  });

  app.get("/v1/models/:org/:name/manifest", async (c) => {
    const { org, name, revision } = modelParams(c);
    const ref = await store.resolve(org, name, revision);
    const lease = await store.leases.acquire(ref.containerPath);
    let body: Uint8Array;
    try {
      const manifest = manifestSchema.parse(buildManifest(await store.snapshot(ref, lease), lease));
      body = new TextEncoder().encode(JSON.stringify(manifest));
    } finally {
      lease.release();
    }
    return respond(ctx, c, hashedBytesRepresentation(body, "application/json; charset=utf-8"));
  });

  const auth = requireToken(ctx.config.token);

  app.put("/v1/models/:org/:name", auth, async (c) => {
    const { org, name, revision } = modelParams(c);
    const mode = c.req.query("mode") ?? "best";
    if (mode !== "best" && mode !== "fast") {
      throw new HttpError(400, "bad_query", `mode must be fast or best: received "${mode}"`);
    }
    const r = await store.publishModel(org, name, revision, c.req.raw.body, {
      ...uploadLimits(c, ctx.config.maxUploadBytes, ctx.config.timeoutMs),
      mode,
      expect: writeExpectation(c),
    });
    return c.json(
      publishResultSchema.parse({
        id: `${org}/${name}`,
        revision: r.ref.revision,
        created: r.created,
        sha256: r.sha256,
        size: r.size,
        containerSha256: r.containerSha256,
        containerSize: r.containerSize,
      }),
      r.created ? 201 : 200,
    );
  });

  app.delete("/v1/models/:org/:name", auth, async (c) => {
    const { org, name, revision } = modelParams(c);
    await store.deleteRevision(org, name, revision, writeExpectation(c));
    return c.body(null, 204);
  });

  return app;
}
