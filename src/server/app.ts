/**
 * Builds the Hono app from the route modules in `routes/`, with the cross-cutting middleware:
 * access log and metrics, CORS, header timeout, JSON errors and 405s.
 * @module
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { filePaths, fileRoutes } from "../../routes/files.ts";
import { healthPaths, healthRoutes } from "../../routes/health.ts";
import { hfPaths, hfRoutes } from "../../routes/hf.ts";
import { layerPaths, layerRoutes } from "../../routes/layers.ts";
import { modelPaths, modelRoutes } from "../../routes/models.ts";
import { tensorPaths, tensorRoutes } from "../../routes/tensors.ts";
import { HttpError } from "../http/http_error.ts";
import type { AppEnv, ServerContext } from "./context.ts";
import { errorAnswer, errorResponse } from "./error_response.ts";
import { accessLog } from "./middleware/access_log.ts";
import { headerTimeout } from "./middleware/timeout.ts";
import type { Paths } from "./openapi.ts";

/** Every documented path and operation. */
export const API_PATHS: Paths = {
  ...healthPaths,
  ...modelPaths,
  ...tensorPaths,
  ...layerPaths,
  ...filePaths,
  ...hfPaths,
};

/** Headers a browser client may read. */
const EXPOSED = [
  "Accept-Ranges",
  "Content-Length",
  "Content-Range",
  "Content-Digest",
  "Repr-Digest",
  "ETag",
  "X-Tessera-Dtype",
  "X-Tessera-Shape",
  "X-Tessera-Tensor",
  "X-Tessera-Selection",
  "X-Tessera-Layer",
  "X-Repo-Commit",
  "X-Linked-Etag",
  "X-Linked-Size",
  "X-Error-Code",
  "X-Error-Message",
];

/** Route patterns and the methods they answer, for 405 with `Allow`. */
const METHODS: [string, string[]][] = [
  ["/healthz", ["GET", "HEAD"]],
  ["/metrics", ["GET", "HEAD"]],
  ["/openapi.json", ["GET", "HEAD"]],
  ["/v1/models", ["GET", "HEAD"]],
  ["/v1/models/:org/:name", ["GET", "HEAD", "PUT", "DELETE"]],
  ["/v1/models/:org/:name/manifest", ["GET", "HEAD"]],
  ["/v1/models/:org/:name/tensors/:tensor{.+}", ["GET", "HEAD"]],
  ["/v1/models/:org/:name/layers/:layer{.+}", ["GET", "HEAD"]],
  ["/v1/models/:org/:name/container", ["GET", "HEAD"]],
  ["/v1/models/:org/:name/files/:file", ["GET", "HEAD", "PUT", "DELETE"]],
  ["/api/models", ["GET", "HEAD"]],
  ["/api/models/:org/:name", ["GET", "HEAD"]],
  ["/api/models/:org/:name/revision/:revision{.+}", ["GET", "HEAD"]],
  ["/api/models/:org/:name/tree/:revision/:path{.*}?", ["GET", "HEAD"]],
  ["/:org/:name/resolve/:revision/:file{.+}", ["GET", "HEAD"]],
  ["/:org/:name/raw/:revision/:file{.+}", ["GET", "HEAD"]],
];

/**
 * The app for `ctx`.
 *
 * @example
 * ```ts
 * const res = await createApp(ctx).request("/healthz");
 * ```
 */
export function createApp(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", accessLog(ctx));
  app.use(
    "*",
    cors({
      origin: "*",
      allowMethods: ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"],
      allowHeaders: [
        "Range",
        "If-Range",
        "If-None-Match",
        "Want-Content-Digest",
        "Want-Repr-Digest",
        "Authorization",
        "Content-Type",
      ],
      exposeHeaders: EXPOSED,
      maxAge: 600,
    }),
  );
  app.use("*", headerTimeout(ctx.config.timeoutMs));
  app.route("/", healthRoutes(ctx, API_PATHS));
  app.route("/", modelRoutes(ctx));
  app.route("/", tensorRoutes(ctx));
  app.route("/", layerRoutes(ctx));
  app.route("/", fileRoutes(ctx));
  app.route("/", hfRoutes(ctx));
  for (const [path, allowed] of METHODS) {
    app.all(path, (c) => {
      throw new HttpError(
        405,
        "method_not_allowed",
        `${c.req.method} is not allowed here; allowed: ${allowed.join(", ")}`,
        { Allow: allowed.join(", ") },
      );
    });
  }
  app.notFound((c) =>
    errorResponse(
      errorAnswer(new HttpError(404, "not_found", `no route for ${new URL(c.req.url).pathname}`)),
      c.req.method === "HEAD",
    )
  );
  app.onError((e, c) => {
    const a = errorAnswer(e);
    if (a.fault) {
      ctx.log(
        `ERROR ${c.req.method} ${new URL(c.req.url).pathname}: ${(e as Error)?.stack ?? e}`,
      );
    }
    return errorResponse(a, c.req.method === "HEAD");
  });
  return app;
}
