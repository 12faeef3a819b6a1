/**
 * Builds the OpenAPI 3.0 document served at `/openapi.json` from the route modules' operation
 * descriptions and the zod schemas of `schemas.ts`.
 * @module
 */
import type { ZodTypeAny } from "zod";
import { zodToJsonSchema } from "zod-to-json-schema";
import {
  errorSchema,
  healthSchema,
  hfModelInfoSchema,
  hfTreeEntrySchema,
  manifestSchema,
  modelListSchema,
  publishResultSchema,
  sidecarResultSchema,
} from "./schemas.ts";

/** Named schemas, published under `components.schemas`. */
export const COMPONENTS: Readonly<Record<string, ZodTypeAny>> = {
  Error: errorSchema,
  Health: healthSchema,
  ModelList: modelListSchema,
  Manifest: manifestSchema,
  PublishResult: publishResultSchema,
  SidecarResult: sidecarResultSchema,
  HfModelInfo: hfModelInfoSchema,
  HfTreeEntry: hfTreeEntrySchema,
};

/** A response body: a named component, raw bytes, text, or a JSON array of a component. */
export type Body = keyof typeof COMPONENTS | "binary" | "text" | `${string}[]`;

/** A parameter description. */
export interface Param {
  /** Name. */
  readonly name: string;
  /** Where it goes. */
  readonly in: "path" | "query" | "header";
  /** What it means. */
  readonly description: string;
  /** Whether it must be given. */
  readonly required?: boolean;
}

/** One operation. */
export interface Operation {
  /** One line. */
  readonly summary: string;
  /** More. */
  readonly description?: string;
  /** Tag grouping. */
  readonly tag: string;
  /** Parameters. */
  readonly params?: readonly Param[];
  /** Request body kind, for uploads. */
  readonly requestBody?: Body;
  /** Responses by status. */
  readonly responses: Readonly<Record<string, { description: string; body?: Body }>>;
  /** Needs the bearer token. */
  readonly auth?: boolean;
}

/** Operations by path and lower-case method. */
export type Paths = Record<string, Record<string, Operation>>;

/** Common parameters. */
export const P = {
  org: { name: "org", in: "path", description: "organisation", required: true },
  name: { name: "name", in: "path", description: "model name", required: true },
  revision: {
    name: "revision",
    in: "query",
    description: "branch name, HEAD or commit id; default main",
  },
  range: {
    name: "Range",
    in: "header",
    description: "RFC 9110 byte ranges: single, multiple (multipart/byteranges, at most 16 after " +
      "coalescing, else 200), suffix and open-ended",
  },
  ifRange: { name: "If-Range", in: "header", description: "strong entity tag" },
  ifNoneMatch: { name: "If-None-Match", in: "header", description: "entity tags; 304 on match" },
  ifMatch: {
    name: "If-Match",
    in: "header",
    description: "strong entity tags, or *: 412 unless the current version is one of them",
  },
  ifNoneMatchWrite: {
    name: "If-None-Match",
    in: "header",
    description: "* to create only, or entity tags to refuse: 412 when the current version matches",
  },
  wantDigest: {
    name: "Want-Content-Digest",
    in: "header",
    description: "sha-256 or sha-512; Content-Digest is sent for whole bodies whose SHA-256 the " +
      "index records, and for other bodies up to 16 MiB",
  },
} as const satisfies Record<string, Param>;

/** Parameters every byte-serving GET takes. */
export const BYTE_PARAMS: readonly Param[] = [
  P.range,
  P.ifRange,
  P.ifMatch,
  P.ifNoneMatch,
  P.wantDigest,
];

/** Responses every byte-serving GET may give besides 200. */
export const BYTE_RESPONSES = {
  "206": { description: "partial content (single range, or multipart/byteranges)", body: "binary" },
  "304": { description: "not modified (If-None-Match matched)" },
  "412": { description: "precondition failed (If-Match did not match)", body: "Error" },
  "416": { description: "range not satisfiable; Content-Range: bytes */length", body: "Error" },
} as const;

function content(body: Body): Record<string, unknown> {
  if (body === "binary") {
    return { "application/octet-stream": { schema: { type: "string", format: "binary" } } };
  }
  if (body === "text") return { "text/plain": { schema: { type: "string" } } };
  if (body.endsWith("[]")) {
    return {
      "application/json": {
        schema: { type: "array", items: { $ref: `#/components/schemas/${body.slice(0, -2)}` } },
      },
    };
  }
  return { "application/json": { schema: { $ref: `#/components/schemas/${body}` } } };
}

/**
 * The OpenAPI document for `paths`.
 *
 * @example
 * ```ts
 * const doc = openApiDocument({
 *   "/healthz": { get: { summary: "health", tag: "ops", responses: { "200": { description: "ok" } } } },
 * });
 * ```
 */
export function openApiDocument(paths: Paths): Record<string, unknown> {
  const outPaths: Record<string, unknown> = {};
  for (const [path, ops] of Object.entries(paths)) {
    const item: Record<string, unknown> = {};
    for (const [method, op] of Object.entries(ops)) {
      const responses: Record<string, unknown> = {};
      for (const [status, r] of Object.entries(op.responses)) {
        responses[status] = {
          description: r.description,
          ...(r.body && { content: content(r.body) }),
        };
      }
      responses.default = { description: "error", content: content("Error") };
      item[method] = {
        summary: op.summary,
        ...(op.description && { description: op.description }),
        tags: [op.tag],
        operationId: `${method}${
          path.replace(/[^A-Za-z0-9]+(.)?/g, (_, ch) => (ch ?? "").toUpperCase())
        }`,
        parameters: (op.params ?? []).map((p) => ({
          name: p.name,
          in: p.in,
          description: p.description,
          required: p.in === "path" ? true : p.required ?? false,
          schema: { type: "string" },
        })),
        ...(op.requestBody &&
          { requestBody: { required: true, content: content(op.requestBody) } }),
        ...(op.auth && { security: [{ bearer: [] }] }),
        responses,
      };
    }
    outPaths[path] = item;
  }
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(COMPONENTS)) {
    schemas[name] = zodToJsonSchema(schema, { target: "openApi3", $refStrategy: "none" });
  }
  return {
    openapi: "3.0.3",
    info: {
      title: "Tessera",
      version: "1",
      description: "A self-hosted model hub serving Tessera containers: manifests, decoded " +
        "tensors and tiles, layers as safetensors, the original file byte-identical, the raw " +
        "container, and Hugging Face-compatible routes. Every byte sent has passed its chunk " +
        "checksum; strong ETags are content hashes.",
    },
    paths: outPaths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
  };
}
