/**
 * The store, read-only, for edges (`--origin`): what an edge needs to run the same server over
 * this one's store. Immutable objects by key, with Range (an edge fetches only the container
 * spans a request needs); a repo's refs with its head commits in one answer, revalidated with
 * `If-None-Match`; and a listing. Every server has these routes, so an edge is also an origin for
 * further edges.
 * @module
 */
import { z } from "@hono/zod-openapi";
import { HttpError } from "../src/http/http_error.ts";
import type { Representation } from "../src/http/representation.ts";
import type { ServerContext } from "../src/server/context.ts";
import {
  type ApiRoute,
  BYTE_RESPONSES,
  byteRequestHeaders,
  bytesResponse,
  defineRoute,
  jsonResponse,
  modelPathParams,
} from "../src/server/openapi.ts";
import { jsonRepresentation, respond } from "../src/server/respond.ts";
import { checkIdPart } from "../src/store/names.ts";
import { refsKey } from "../src/store/refs.ts";

/** Keys of immutable objects: contents, packed records, commits. */
const IMMUTABLE =
  /^(blobs\/[0-9a-f]{64}|packed\/[0-9a-f]{64}\.json|repos\/[^/]+\/[^/]+\/commits\/[0-9a-f]{40}\.json)$/;
/** Reads of a blob served at once. */
const READ = 1 << 20;

/** Largest listing answered. */
const MAX_LISTED = 100_000;

/**
 * The routes.
 *
 * @example
 * ```ts
 * mountRoutes(app, ctx, storeRoutes(ctx));
 * ```
 */
export function storeRoutes(ctx: ServerContext): ApiRoute[] {
  const objects = ctx.store.objects;
  return [
    defineRoute({
      method: "get",
      path: "/v1/store/objects/{key}",
      rest: "key",
      tag: "store",
      summary: "An immutable object of the store by key (blobs/<sha256>, packed/<sha256>.json, " +
        "repos/<org>/<name>/commits/<id>.json), with Range: what an edge reads",
      description: "Keys name their bytes, so answers never change: `Cache-Control: immutable`, " +
        "strong ETag from the key. Several ranges at once get multipart/byteranges (an edge " +
        "opens a container with its first and last bytes in one request).",
      params: z.object({ key: z.string().openapi({ description: "object key" }) }),
      headers: byteRequestHeaders,
      responses: { 200: bytesResponse("the object"), ...BYTE_RESPONSES },
      handler: async (c, { params }) => {
        const key = params.key;
        if (!IMMUTABLE.test(key)) {
          throw new HttpError(404, "not_found", `no immutable object ${JSON.stringify(key)}`);
        }
        const o = await objects.openObject(key).catch(() => null) ??
          await objects.getObject(key, 64 << 20).then((b) =>
            b &&
            {
              size: b.length,
              readAt: (at: number, n: number) => Promise.resolve(b.subarray(at, at + n)),
              close() {},
            }
          );
        if (!o) throw new HttpError(404, "not_found", `the store holds no ${key}`);
        const tag = /([0-9a-f]{40,64})(\.json)?$/.exec(key)![1];
        const rep: Representation = {
          size: o.size,
          contentType: "application/octet-stream",
          etag: `"${tag}"`,
          headers: { "Cache-Control": "public, max-age=31536000, immutable" },
          async *read(start, end, signal) {
            for (let at = start; at < end && !signal.aborted; at += READ) {
              yield await o.readAt(at, Math.min(READ, end - at), signal);
            }
          },
          release: () => o.close(),
        };
        return respond(ctx, c, rep);
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/store/refs/{org}/{name}",
      tag: "store",
      summary: "A repo's refs with its head commits, for edges; revalidate with If-None-Match",
      params: modelPathParams,
      headers: byteRequestHeaders,
      responses: {
        200: jsonResponse(
          z.object({
            format: z.literal("tessera-edge-refs/1"),
            refs: z.string(),
            commits: z.record(z.string()),
          }),
          "the refs object's bytes and each head commit's, as text",
        ),
        304: BYTE_RESPONSES[304],
      },
      handler: async (c, { params }) => {
        const org = checkIdPart(params.org, "org"), name = checkIdPart(params.name, "name");
        const raw = await objects.getRef(refsKey(org, name));
        if (!raw) throw new HttpError(404, "model_not_found", `no model ${org}/${name}`);
        const text = new TextDecoder().decode(raw.bytes);
        const branches: Record<string, string> = JSON.parse(text).branches ?? {};
        const commits: Record<string, string> = {};
        for (const id of new Set(Object.values(branches))) {
          const bytes = await objects.getObject(
            `repos/${org}/${name}/commits/${id}.json`,
            16 << 20,
          );
          if (bytes) commits[id] = new TextDecoder().decode(bytes);
        }
        return respond(
          ctx,
          c,
          jsonRepresentation(
            { format: "tessera-edge-refs/1", refs: text, commits },
            { "Cache-Control": "no-cache" },
          ),
        );
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/store/list",
      tag: "store",
      summary: "Keys of the store under a prefix, with sizes and times, for edges",
      query: z.object({
        prefix: z.string().regex(/^[A-Za-z0-9._\/-]*$/).openapi({ description: "key prefix" }),
      }),
      responses: {
        200: jsonResponse(
          z.object({
            objects: z.array(
              z.object({ key: z.string(), size: z.number(), modifiedMs: z.number() }),
            ),
          }),
          "the keys",
        ),
      },
      handler: async (c, { query }) => {
        const out = [];
        for await (const o of objects.list(query.prefix)) {
          out.push(o);
          if (out.length > MAX_LISTED) {
            throw new HttpError(413, "too_many", `more than ${MAX_LISTED} keys under the prefix`);
          }
        }
        c.header("Cache-Control", "no-cache");
        return c.json({ objects: out });
      },
    }),
  ];
}
