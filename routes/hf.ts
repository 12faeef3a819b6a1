/**
 * Hugging Face-compatible routes, so Hub clients work unmodified with their hub URL pointed here:
 * `resolve` and `raw` for files, and the API calls the clients make: model info (with
 * `siblings`), the tree, `paths-info`, refs and commits. Revisions are branches, `HEAD` or commit
 * ids; responses about a commit id are immutable (`Cache-Control`), about a branch revalidated.
 * @module
 */
import { z } from "@hono/zod-openapi";
import { HttpError } from "../src/http/http_error.ts";
import { bytesRepresentation } from "../src/http/representation.ts";
import type { AppContext, ServerContext } from "../src/server/context.ts";
import { hfCommit, hfModelInfo, hfRefs, pathsInfo, treeEntries } from "../src/server/hf_info.ts";
import {
  type ApiRoute,
  BYTE_RESPONSES,
  byteRequestHeaders,
  bytesResponse,
  defineRoute,
  jsonResponse,
  modelName,
  org,
} from "../src/server/openapi.ts";
import { cacheControl, fileRepresentation, hubHeaders } from "../src/server/repo_files.ts";
import { jsonRepresentation, respond } from "../src/server/respond.ts";
import {
  hfCommitSchema,
  hfModelInfoSchema,
  hfPathsInfoRequestSchema,
  hfRefsSchema,
  hfTreeEntrySchema,
} from "../src/server/schemas.ts";
import { fileAt } from "../src/store/commit.ts";
import { fileNotFound } from "../src/store/errors.ts";
import { lfsPointer } from "../src/store/git_objects.ts";
import type { Revision } from "../src/store/repo_reader.ts";
import { branchVariants, resolveRevision } from "../src/server/variant_revisions.ts";

const revision = z.string().openapi({
  description:
    "branch, HEAD or commit id (URL-encoded: refs%2Fheads%2Fmain); <revision>@<variant> " +
    "(main@int8, or refs/convert/main@int8) is a variant revision, whose safetensors files " +
    "hold the variant's tensors dequantised",
  example: "main",
});
const repoPath = z.string().openapi({
  description: "path in the repo; its / may be sent as is or encoded",
  example: "config.json",
});
const flag = z.string().optional().transform((v) => v !== undefined && /^(1|true)$/i.test(v))
  .openapi({ type: "string", description: "true or 1; anything else is false" });
const pageQuery = {
  limit: z.string().regex(/^\d{1,5}$/).optional().openapi({ description: "entries per page" }),
  cursor: z.string().max(2048).optional().openapi({
    description: "where the page starts: from the Link header of the previous page",
  }),
};

/** Largest `config.json` read for model info. */
const MAX_CONFIG = 1 << 20;
/** Tree entries per page by default (as on the Hub), and at most. */
const TREE_PAGE = 1000;
/** Commits per page by default, and at most. */
const COMMITS_PAGE = 50, MAX_COMMITS_PAGE = 1000;

const resolveHeaders = z.object({
  ETag: z.string().openapi({ description: "LFS files: the SHA-256; others: the git blob id" }),
  "X-Repo-Commit": z.string().openapi({ description: "the commit served" }),
  "X-Linked-Etag": z.string().optional().openapi({ description: "LFS files: the SHA-256" }),
  "X-Linked-Size": z.string().optional().openapi({ description: "LFS files: the size" }),
  "Last-Modified": z.string().openapi({ description: "date of the commit that last changed it" }),
  "Cache-Control": z.string().openapi({
    description: "immutable for a commit id, no-cache (revalidate) for a branch",
  }),
});

function page(query: { limit?: string; cursor?: string }, max: number, dflt: number) {
  const limit = Math.min(max, Math.max(1, Number(query.limit ?? dflt)));
  return { limit, cursor: query.cursor ?? null };
}

/** `Link: <…>; rel="next"` for the page after `last`, on the request's own URL. */
function nextLink(c: AppContext, last: string): string {
  const url = new URL(c.req.url);
  url.searchParams.set("cursor", last);
  return `<${url.href}>; rel="next"`;
}

/**
 * The routes; mount them after every other route, since `/{org}/{name}/…` catches much.
 *
 * @example
 * ```ts
 * mountRoutes(app, ctx, hfRoutes(ctx));
 * ```
 */
export function hfRoutes(ctx: ServerContext): ApiRoute[] {
  const { store } = ctx;
  const resolveRev = (o: string, n: string, rev: string | null) => resolveRevision(ctx, o, n, rev);

  async function readConfig(rev: Revision): Promise<Record<string, unknown> | null> {
    const f = fileAt(rev.commit, "config.json");
    if (!f || f.container || f.size > MAX_CONFIG) return null;
    try {
      const parsed = JSON.parse(new TextDecoder().decode(await store.readRaw(f, MAX_CONFIG)));
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed;
    } catch {
      // an unreadable config is simply not reported
    }
    return null;
  }

  async function modelInfo(c: AppContext, o: string, n: string, r: string | null) {
    const rev = await resolveRev(o, n, r);
    const view = await ctx.views.get(rev.id, rev.source);
    const body = hfModelInfoSchema.parse(
      hfModelInfo(rev, view, await readConfig(rev), rev.commit.date),
    );
    return respond(ctx, c, jsonRepresentation(body, { "Cache-Control": cacheControl(rev) }));
  }

  async function tree(
    c: AppContext,
    params: { org: string; name: string; revision: string; path?: string },
    query: { recursive: boolean; expand: boolean; limit?: string; cursor?: string },
  ) {
    const rev = await resolveRev(params.org, params.name, params.revision);
    const path = (params.path ?? "").replace(/^\/+|\/+$/g, "");
    const entries = treeEntries(rev.commit, path, query.recursive, query.expand);
    if (entries === null) {
      throw new HttpError(404, "file_not_found", `${rev.id}@${rev.revision} has no folder ${path}`);
    }
    const { limit, cursor } = page(query, TREE_PAGE, TREE_PAGE);
    const start = cursor === null ? 0 : entries.findIndex((e) => e.path > cursor);
    const slice = start < 0 ? [] : entries.slice(start, start + limit);
    const headers: Record<string, string> = { "Cache-Control": cacheControl(rev) };
    if (start >= 0 && start + limit < entries.length) {
      headers.Link = nextLink(c, slice[slice.length - 1].path);
    }
    const body = slice.map((e) => hfTreeEntrySchema.parse(e));
    return respond(ctx, c, jsonRepresentation(body, headers));
  }

  async function file(
    c: AppContext,
    p: { org: string; name: string; revision: string; path: string },
    raw: boolean,
  ) {
    const rev = await resolveRev(p.org, p.name, p.revision);
    const f = fileAt(rev.commit, p.path);
    if (!f) {
      // huggingface_hub caches "no such file at this commit" under the commit it is told.
      const e = fileNotFound(rev.id, rev.revision, p.path);
      throw new HttpError(404, e.kind, e.message, { "X-Repo-Commit": rev.commit.id });
    }
    if (raw && f.lfs) {
      // `raw` serves what git stores: the LFS pointer, whose ETag is its git blob id.
      const pointer = new TextEncoder().encode(lfsPointer(f.sha256, f.size));
      const { "X-Linked-Etag": _, "X-Linked-Size": __, ...headers } = hubHeaders(rev, f);
      return respond(
        ctx,
        c,
        bytesRepresentation(pointer, "text/plain; charset=utf-8", `"${f.gitOid}"`, { headers }),
      );
    }
    return respond(ctx, c, await fileRepresentation(ctx, rev, f));
  }

  const repoParams = z.object({ org, name: modelName });
  const revParams = repoParams.extend({ revision });
  const fileParams = revParams.extend({ path: repoPath });
  const treeQuery = z.object({ recursive: flag, expand: flag, ...pageQuery });

  return [
    defineRoute({
      method: "get",
      path: "/api/models",
      tag: "huggingface",
      summary: "Hugging Face model list",
      query: z.object({
        search: z.string().optional().openapi({ description: "substring of the id" }),
        author: z.string().optional().openapi({ description: "org" }),
        limit: z.string().regex(/^\d{1,6}$/).optional().openapi({ description: "most models" }),
      }),
      responses: { 200: jsonResponse(z.array(hfModelInfoSchema), "models") },
      handler: async (c, { query }) => {
        const search = query.search?.toLowerCase() ?? "";
        const out = [];
        for (const m of await store.reader.list()) {
          const [o, n] = m.id.split("/");
          if (query.author && o !== query.author) continue;
          if (search && !m.id.toLowerCase().includes(search)) continue;
          if (query.limit !== undefined && out.length >= Number(query.limit)) break;
          const rev = await resolveRev(o, n, m.branches.includes("main") ? "main" : m.branches[0])
            .catch(() => null);
          if (rev) out.push(hfModelInfoSchema.parse(hfModelInfo(rev, null, null, rev.commit.date)));
        }
        return c.json(out);
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/models/{org}/{name}",
      tag: "huggingface",
      summary: "Hugging Face model info of the default branch, with siblings",
      params: repoParams,
      responses: { 200: jsonResponse(hfModelInfoSchema, "model info") },
      handler: (c, { params }) => modelInfo(c, params.org, params.name, null),
    }),
    defineRoute({
      method: "get",
      path: "/api/models/{org}/{name}/revision/{revision}",
      rest: "revision",
      tag: "huggingface",
      summary: "Hugging Face model info of a revision (model_info, snapshot_download)",
      params: revParams,
      responses: { 200: jsonResponse(hfModelInfoSchema, "model info") },
      handler: (c, { params }) => modelInfo(c, params.org, params.name, params.revision),
    }),
    // The tree of the root, and of a folder (an optional path parameter is two paths in OpenAPI).
    ...([["", revParams], ["/{path}", fileParams]] as const).map(([suffix, params]) =>
      defineRoute({
        method: "get",
        path: `/api/models/{org}/{name}/tree/{revision}${suffix}`,
        ...(suffix && { rest: "path" }),
        tag: "huggingface",
        summary: `Hugging Face file tree of ${suffix ? "a folder of " : ""}a revision: files ` +
          "with their real size, folders",
        description: "recursive=true lists every file and folder below; expand=true adds " +
          "lastCommit. Pages of 1000 entries, the next one named by a Link header (rel=next).",
        params,
        query: treeQuery,
        responses: { 200: jsonResponse(z.array(hfTreeEntrySchema), "entries") },
        handler: (c, { params, query }) => tree(c, params, query),
      })
    ),
    defineRoute({
      method: "post",
      path: "/api/models/{org}/{name}/paths-info/{revision}",
      tag: "huggingface",
      summary: "Hugging Face paths-info: the entries of the paths asked (get_paths_info)",
      description: "Paths that do not exist are left out. The body is JSON or a form " +
        "(paths repeated), as the JS and Python clients send it.",
      params: revParams,
      body: {
        description: "paths and expand",
        content: {
          "application/json": { schema: hfPathsInfoRequestSchema },
          "application/x-www-form-urlencoded": { schema: hfPathsInfoRequestSchema },
        },
      },
      responses: { 200: jsonResponse(z.array(hfTreeEntrySchema), "entries") },
      handler: async (c, { params }) => {
        const type = c.req.header("Content-Type") ?? "";
        let raw: unknown;
        if (/json/i.test(type)) {
          try {
            raw = await c.req.json();
          } catch (e) {
            throw new HttpError(
              400,
              "bad_request",
              `the body is not JSON: ${(e as Error).message}`,
            );
          }
        } else raw = await c.req.parseBody({ all: true });
        const parsed = hfPathsInfoRequestSchema.safeParse(raw);
        if (!parsed.success) {
          throw new HttpError(400, "bad_request", `body: ${parsed.error.issues[0].message}`);
        }
        const paths = [parsed.data.paths].flat();
        const expand = parsed.data.expand === true ||
          (typeof parsed.data.expand === "string" && /^(1|true)$/i.test(parsed.data.expand));
        const rev = await resolveRev(params.org, params.name, params.revision);
        return c.json(pathsInfo(rev.commit, paths, expand).map((e) => hfTreeEntrySchema.parse(e)));
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/models/{org}/{name}/refs",
      tag: "huggingface",
      summary: "Hugging Face refs: branches and their head commits (list_repo_refs); converts: " +
        "the variant revisions of each branch (<branch>@<variant>, refs/convert/<branch>@<variant>)",
      params: repoParams,
      query: z.object({ include_prs: flag }),
      responses: { 200: jsonResponse(hfRefsSchema, "refs") },
      handler: async (c, { params, query }) => {
        const { refs } = await store.reader.refs(params.org, params.name);
        const converts = await branchVariants(ctx, params.org, params.name, refs.branches);
        const body = hfRefsSchema.parse(hfRefs(refs.branches, query.include_prs, converts));
        return respond(ctx, c, jsonRepresentation(body, { "Cache-Control": "no-cache" }));
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/models/{org}/{name}/commits/{revision}",
      tag: "huggingface",
      summary: "Hugging Face commits of a revision, newest first (list_repo_commits)",
      description: "Pages of 50 (limit up to 1000), the next one named by a Link header.",
      params: revParams,
      query: z.object(pageQuery),
      responses: { 200: jsonResponse(z.array(hfCommitSchema), "commits") },
      handler: async (c, { params, query }) => {
        const rev = await resolveRev(params.org, params.name, params.revision);
        const { limit, cursor } = page(query, MAX_COMMITS_PAGE, COMMITS_PAGE);
        let start = rev.commit;
        if (cursor !== null) {
          // A variant revision's own commit is not stored: its parent is the stored one.
          const after = cursor === rev.commit.id
            ? rev.commit
            : await store.reader.commit(rev.org, rev.name, cursor);
          if (!after) throw new HttpError(400, "bad_query", `cursor ${cursor} is not a commit`);
          const parent = after.parent && await store.reader.commit(rev.org, rev.name, after.parent);
          if (!parent) return c.json([]);
          start = parent;
        }
        const out = [];
        let more = false;
        for await (const commit of store.reader.history(rev.org, rev.name, start)) {
          if (out.length === limit) {
            more = true;
            break;
          }
          out.push(hfCommitSchema.parse(hfCommit(commit)));
        }
        const headers: Record<string, string> = { "Cache-Control": cacheControl(rev) };
        if (more) headers.Link = nextLink(c, out[out.length - 1].id);
        return respond(ctx, c, jsonRepresentation(out, headers));
      },
    }),
    defineRoute({
      method: "get",
      path: "/{org}/{name}/resolve/{revision}/{path}",
      rest: "path",
      tag: "huggingface",
      summary: "Hugging Face resolve: a file of a revision, byte-identical",
      description: "Safetensors files are decoded from their containers on the fly. A missing " +
        "repo, revision or file gets 404 with X-Error-Code RepoNotFound, RevisionNotFound or " +
        "EntryNotFound.",
      params: fileParams,
      headers: byteRequestHeaders,
      responses: {
        200: bytesResponse("the file", "application/octet-stream", resolveHeaders),
        ...BYTE_RESPONSES,
      },
      handler: (c, { params }) => file(c, params, false),
    }),
    defineRoute({
      method: "get",
      path: "/{org}/{name}/raw/{revision}/{path}",
      rest: "path",
      tag: "huggingface",
      summary: "Hugging Face raw: files as git stores them (LFS files as their pointer)",
      params: fileParams,
      headers: byteRequestHeaders,
      responses: { 200: bytesResponse("the file or its LFS pointer"), ...BYTE_RESPONSES },
      handler: (c, { params }) => file(c, params, true),
    }),
  ];
}
