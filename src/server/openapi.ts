/**
 * One definition per route: {@link defineRoute} takes the method, the path in OpenAPI form, the
 * zod schemas of its parameters and JSON body, its responses and its handler. {@link mountRoutes}
 * turns the list into the Hono routes (with the parameters validated by the same schemas), the
 * `405 Method Not Allowed` answers with `Allow`, and the entries of the OpenAPI 3.1 document
 * ({@link openApiDocument}). Nothing about a route is written twice.
 *
 * Hugging Face paths put file paths and tensor names, which contain `/`, in the last path
 * segment; a route marks that parameter as `rest`, and it captures the rest of the path.
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { RouteConfig } from "@hono/zod-openapi";
import type { AnyZodObject, ZodTypeAny } from "zod";
import { HttpError } from "../http/http_error.ts";
import type { AppContext, AppEnv, ServerContext } from "./context.ts";
import { requireToken } from "./middleware/auth.ts";
import { errorSchema } from "./schemas.ts";
import { VARIANT_NAME } from "../../codec/variants/encoding.ts";

/** HTTP methods a route answers (HEAD comes with GET). */
export type Method = "get" | "put" | "post" | "delete";

/** The validated input of a handler. */
export interface RouteInput<
  P extends AnyZodObject,
  Q extends AnyZodObject,
  B extends ZodTypeAny,
> {
  /** Path parameters, decoded. */
  readonly params: z.infer<P>;
  /** Query parameters. */
  readonly query: z.infer<Q>;
  /** The JSON body, when the route validates one. */
  readonly body: z.infer<B>;
}

/** A response of an operation. */
export type ResponseSpec = RouteConfig["responses"][string];

/** One route. */
export interface ApiRoute<
  P extends AnyZodObject = AnyZodObject,
  Q extends AnyZodObject = AnyZodObject,
  B extends ZodTypeAny = ZodTypeAny,
> {
  /** Method. */
  readonly method: Method;
  /** Path, OpenAPI style: `/v1/models/{org}/{name}`. */
  readonly path: string;
  /** The last path parameter, when it captures the rest of the path (slashes included). */
  readonly rest?: string;
  /** Tag grouping. */
  readonly tag: string;
  /** One line. */
  readonly summary: string;
  /** More. */
  readonly description?: string;
  /** Needs the bearer token. */
  readonly auth?: boolean;
  /** Path parameters. */
  readonly params?: P;
  /** Query parameters. */
  readonly query?: Q;
  /** Request headers it reads (documented; the HTTP layer parses them). */
  readonly headers?: AnyZodObject;
  /** The request body. `json` bodies are validated against `schema` before the handler runs. */
  readonly body?: {
    readonly description: string;
    readonly content: Record<string, { schema: ZodTypeAny }>;
    readonly json?: B;
  };
  /** Responses by status (an error response is added for every other status). */
  readonly responses: Record<string, ResponseSpec>;
  /** Answers a request. */
  readonly handler: (c: AppContext, input: RouteInput<P, Q, B>) => Promise<Response> | Response;
}

/**
 * Defines a route; a function only so that the handler's input is typed from the schemas.
 *
 * @example
 * ```ts
 * const health = defineRoute({
 *   method: "get", path: "/healthz", tag: "operations", summary: "Liveness",
 *   responses: { 200: jsonResponse(healthSchema, "alive") },
 *   handler: (c) => c.json({ status: "ok" }),
 * });
 * ```
 */
export function defineRoute<
  P extends AnyZodObject = AnyZodObject,
  Q extends AnyZodObject = AnyZodObject,
  B extends ZodTypeAny = ZodTypeAny,
>(route: ApiRoute<P, Q, B>): ApiRoute {
  return route as unknown as ApiRoute;
}

/** A JSON response of `schema`. */
export function jsonResponse(schema: ZodTypeAny, description: string): ResponseSpec {
  return { description, content: { "application/json": { schema } } };
}

/** A response of bytes. */
export function bytesResponse(
  description: string,
  type = "application/octet-stream",
  headers?: AnyZodObject,
): ResponseSpec {
  return {
    description,
    content: { [type]: { schema: z.string().openapi({ format: "binary" }) } },
    ...(headers && { headers }),
  };
}

/** A response without a body. */
export function emptyResponse(description: string): ResponseSpec {
  return { description };
}

/** Common path parameters. */
export const org = z.string().openapi({ description: "organisation", example: "demo" });
/** The model name parameter. */
export const modelName = z.string().openapi({ description: "model name", example: "stories260k" });
/** `org` and `name`. */
export const modelPathParams = z.object({ org, name: modelName });
/** The `revision` query parameter of the /v1 routes. */
export const revisionQuery = z.string().optional().openapi({
  description:
    "branch, refs/heads/<branch>, HEAD or commit id; default main. <revision>@<variant> " +
    "(main@int8) is a variant revision: its safetensors files hold that variant's tensors",
});

/** The `variant` query parameter of the tensor, tile and layer routes. */
export const variantQuery = z.string().regex(VARIANT_NAME).optional().openapi({
  description: "a variant of the revision (the manifest lists them): the bytes dequantised to " +
    "each tensor's dtype; a tensor the variant keeps exact is its original bytes. Implied by a " +
    "variant revision (revision=main@int8)",
  example: "int8",
});
/** The `raw` query parameter: a variant's own payload instead of dequantised bytes. */
export const rawQuery = z.enum(["0", "1", "true", "false"]).optional().transform((v) =>
  v === "1" || v === "true"
).openapi({
  type: "string",
  enum: ["0", "1", "true", "false"],
  description: "with a variant, 1: the variant's own payload (docs/FORMAT.md, \"Variant " +
    'chunks") instead of dequantised bytes',
});

/** The `mode` query parameter of uploads. */
export const modeQuery = z.enum(["fast", "best"]).optional().openapi({
  description: "codec mode of a safetensors file's container: best (default) or fast",
});
/** The `message` query parameter of single-file writes: the commit title. */
export const titleQuery = z.string().max(1000).optional().openapi({ description: "commit title" });

/** A request body of raw bytes. */
export function binaryBody(description: string): NonNullable<ApiRoute["body"]> {
  return {
    description,
    content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
  };
}

/** Headers of every byte-serving GET. */
export const byteRequestHeaders = z.object({
  range: z.string().optional().openapi({
    description: "RFC 9110 byte ranges: single, multiple (multipart/byteranges, at most 16 " +
      "after coalescing, else 200), suffix and open-ended",
  }),
  "if-range": z.string().optional().openapi({ description: "strong entity tag or HTTP-date" }),
  "if-match": z.string().optional().openapi({
    description: "strong entity tags, or *: 412 unless the current version is one of them " +
      "(RFC 9110 §13.2.2 order: If-Match, If-None-Match, If-Modified-Since, If-Range)",
  }),
  "if-none-match": z.string().optional().openapi({ description: "entity tags; 304 on match" }),
  "if-modified-since": z.string().optional().openapi({
    description: "HTTP-date; 304 when not modified since (ignored with If-None-Match)",
  }),
  "want-content-digest": z.string().optional().openapi({
    description: "sha-256 or sha-512; Content-Digest is sent for whole bodies whose SHA-256 " +
      "the index records, and for other bodies up to 16 MiB",
  }),
});

/** Headers of conditional writes. */
export const writeRequestHeaders = z.object({
  "if-match": z.string().optional().openapi({
    description: "entity tags, or *: 412 unless the current version is one of them",
  }),
  "if-none-match": z.string().optional().openapi({
    description: "* to create only, or entity tags to refuse: 412 when the current one matches",
  }),
});

/** Responses every byte-serving GET may give besides 200. */
export const BYTE_RESPONSES: Record<string, ResponseSpec> = {
  206: bytesResponse("partial content (single range, or multipart/byteranges)"),
  304: emptyResponse("not modified (If-None-Match or If-Modified-Since)"),
  412: jsonResponse(errorSchema, "precondition failed (If-Match did not match)"),
  416: jsonResponse(errorSchema, "range not satisfiable; Content-Range: bytes */length"),
};

/** The Hono path of a route: `{name}` → `:name`, the rest parameter → `:name{.+}`. */
export function honoPath(route: Pick<ApiRoute, "path" | "rest">): string {
  return route.path.replace(
    /\{(\w+)\}/g,
    (_, name: string) => (name === route.rest ? `:${name}{.+}` : `:${name}`),
  );
}

function invalid(where: string, kind: string, error: z.ZodError): HttpError {
  const issue = error.issues[0];
  const field = issue.path.join(".");
  return new HttpError(
    400,
    kind,
    `${where}${field ? ` ${field}` : ""}: ${issue.message}`,
  );
}

async function readJson(c: AppContext): Promise<unknown> {
  try {
    return JSON.parse(await c.req.text());
  } catch (e) {
    throw new HttpError(400, "bad_request", `the body is not JSON: ${(e as Error).message}`);
  }
}

/**
 * Registers `routes` on `app`: handlers behind their validation (and the token check for `auth`
 * routes), their OpenAPI entries, then a 405 answer with `Allow` for the other methods of each
 * path. Register the routes before anything else that could match their paths.
 */
export function mountRoutes(
  app: OpenAPIHono<AppEnv>,
  ctx: ServerContext,
  routes: readonly ApiRoute[],
): void {
  const auth = requireToken(ctx.config.token);
  const allowed = new Map<string, Set<string>>();
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
  });
  for (const r of routes) {
    app.openAPIRegistry.registerPath({
      method: r.method,
      path: r.path,
      tags: [r.tag],
      summary: r.summary,
      ...(r.description && { description: r.description }),
      operationId: `${r.method}${
        r.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, ch) => (ch ?? "").toUpperCase())
      }`,
      request: {
        ...(r.params && { params: r.params }),
        ...(r.query && { query: r.query }),
        ...(r.headers && { headers: r.headers }),
        ...(r.body && {
          body: { description: r.body.description, content: r.body.content, required: true },
        }),
      },
      ...(r.auth && { security: [{ bearer: [] }] }),
      responses: { ...r.responses, default: jsonResponse(errorSchema, "error") },
    });
    const path = honoPath(r);
    const methods = allowed.get(path) ?? new Set(["OPTIONS"]);
    methods.add(r.method.toUpperCase());
    if (r.method === "get") methods.add("HEAD");
    allowed.set(path, methods);
    app.on(
      [r.method.toUpperCase()],
      [path],
      ...(r.auth ? [auth] : []),
      async (c) => {
        // Hono leaves a malformed escape as it is; a name must never be half-decoded.
        const raw = new URL(c.req.url).pathname;
        try {
          decodeURIComponent(raw);
        } catch {
          throw new HttpError(400, "bad_path", `path has malformed percent-encoding: "${raw}"`);
        }
        const params = r.params?.safeParse(c.req.param()) ?? { success: true, data: {} };
        if (!params.success) throw invalid("path parameter", "bad_name", params.error);
        const query = r.query?.safeParse(c.req.query()) ?? { success: true, data: {} };
        if (!query.success) throw invalid("query parameter", "bad_query", query.error);
        let body: unknown = undefined;
        if (r.body?.json) {
          const parsed = r.body.json.safeParse(await readJson(c));
          if (!parsed.success) throw invalid("body", "bad_request", parsed.error);
          body = parsed.data;
        }
        return await r.handler(c, { params: params.data, query: query.data, body });
      },
    );
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods].join(", ");
    app.all(path, (c) => {
      throw new HttpError(
        405,
        "method_not_allowed",
        `${c.req.method} is not allowed here; allowed: ${allow}`,
        { Allow: allow },
      );
    });
  }
}

/** The OpenAPI 3.1 document of `app`'s registered routes. */
export function openApiDocument(app: OpenAPIHono<AppEnv>): Record<string, unknown> {
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Tessera",
      version: "1",
      description: "A self-hosted model hub. Repos are trees of files with commits and " +
        "branches; safetensors files are stored as Tessera containers and served " +
        "byte-identical, as decoded tensors and tiles, as layers, and as the raw container. The " +
        "Hugging Face routes (resolve, raw, tree, paths-info, refs, commits, model info) serve " +
        "Hub clients unmodified. Every byte sent has passed its chunk checksum; strong ETags are " +
        "content hashes.",
    },
  }) as unknown as Record<string, unknown>;
}
