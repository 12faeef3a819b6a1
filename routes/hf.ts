/**
 * Hugging Face-compatible routes, so Hub clients work unmodified with their hub URL pointed here:
 * `/{org}/{name}/resolve/{revision}/{file}` (GET, HEAD), `/{org}/{name}/raw/{revision}/{file}`,
 * `/api/models`, `/api/models/{org}/{name}`, `/api/models/{org}/{name}/revision/{rev}` and
 * `/api/models/{org}/{name}/tree/{rev}`.
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "../src/http/http_error.ts";
import { hashedBytesRepresentation, type Representation } from "../src/http/representation.ts";
import type { AppContext, AppEnv, ServerContext } from "../src/server/context.ts";
import { hfFiles, hfModelInfo, hfTree, lfsPointer } from "../src/server/hf_info.ts";
import { BYTE_PARAMS, BYTE_RESPONSES, P, type Paths } from "../src/server/openapi.ts";
import { containerRepresentation, originalRepresentation } from "../src/server/representations.ts";
import { restOfPath } from "../src/server/request_params.ts";
import { respond } from "../src/server/respond.ts";
import { hfModelInfoSchema, hfTreeEntrySchema } from "../src/server/schemas.ts";
import { sidecarRepresentation } from "../src/server/sidecar.ts";
import { fileNotFound } from "../src/store/errors.ts";
import type { RevisionRef } from "../src/store/layout.ts";
import type { RevisionSnapshot } from "../src/store/model_store.ts";
import { CONTAINER_FILE, DEFAULT_REVISION, ORIGINAL_FILE, SIDECAR } from "../src/store/names.ts";

const REV = {
  name: "revision",
  in: "path",
  description: "branch, HEAD or commit id",
  required: true,
} as const;
const FILE = {
  name: "file",
  in: "path",
  description: "model.safetensors (the original, decoded on the fly), model.tsr, or a sidecar",
  required: true,
} as const;

/** OpenAPI description of these routes. */
export const hfPaths: Paths = {
  "/{org}/{name}/resolve/{revision}/{file}": {
    get: {
      summary: "Hugging Face resolve: a file of a revision",
      description: "ETag and X-Linked-Etag are the file's SHA-256, X-Linked-Size its size, " +
        "X-Repo-Commit the revision's commit id. A missing repo, revision or file gets 404 with " +
        "X-Error-Code RepoNotFound, RevisionNotFound or EntryNotFound.",
      tag: "huggingface",
      params: [P.org, P.name, REV, FILE, ...BYTE_PARAMS],
      responses: { "200": { description: "the file", body: "binary" }, ...BYTE_RESPONSES },
    },
  },
  "/{org}/{name}/raw/{revision}/{file}": {
    get: {
      summary: "Hugging Face raw: sidecars as stored, Git LFS pointers for model files",
      tag: "huggingface",
      params: [P.org, P.name, REV, FILE, ...BYTE_PARAMS],
      responses: { "200": { description: "the file", body: "text" }, ...BYTE_RESPONSES },
    },
  },
  "/api/models": {
    get: {
      summary: "Hugging Face model list",
      tag: "huggingface",
      params: [
        { name: "search", in: "query", description: "substring of the id" },
        { name: "author", in: "query", description: "org" },
      ],
      responses: { "200": { description: "models", body: "HfModelInfo[]" } },
    },
  },
  "/api/models/{org}/{name}": {
    get: {
      summary: "Hugging Face model info of the default revision, with siblings",
      tag: "huggingface",
      params: [P.org, P.name],
      responses: { "200": { description: "model info", body: "HfModelInfo" } },
    },
  },
  "/api/models/{org}/{name}/revision/{revision}": {
    get: {
      summary: "Hugging Face model info of a revision",
      tag: "huggingface",
      params: [P.org, P.name, REV],
      responses: { "200": { description: "model info", body: "HfModelInfo" } },
    },
  },
  "/api/models/{org}/{name}/tree/{revision}": {
    get: {
      summary: "Hugging Face file tree of a revision",
      tag: "huggingface",
      params: [P.org, P.name, REV],
      responses: { "200": { description: "entries", body: "HfTreeEntry[]" } },
    },
  },
};

/** The parsed `config.json` of `snap`, when it is a JSON object of at most 1 MiB. */
async function readConfig(snap: RevisionSnapshot): Promise<Record<string, unknown> | null> {
  if (!snap.sidecars.some((s) => s.name === "config.json" && s.size <= 1 << 20)) return null;
  try {
    const parsed = JSON.parse(await Deno.readTextFile(`${snap.ref.dir}/config.json`));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed;
  } catch {
    // an unreadable config is simply not reported
  }
  return null;
}

/**
 * The routes; register them after every other route, since `/{org}/{name}/…` is a catch-all.
 *
 * @example
 * ```ts
 * app.route("/", hfRoutes(ctx));
 * ```
 */
export function hfRoutes(ctx: ServerContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { store } = ctx;

  /** The snapshot of `ref` and the index of the very container it describes. */
  async function snapshotOf(ref: RevisionRef) {
    const lease = await store.leases.acquire(ref.containerPath);
    try {
      return { snap: await store.snapshot(ref, lease), index: lease.container.index };
    } finally {
      lease.release();
    }
  }

  const resolve = (c: AppContext, revision: string | null | undefined) =>
    store.resolve(c.req.param("org")!, c.req.param("name")!, revision);

  async function modelInfo(c: AppContext, revision: string | null): Promise<Response> {
    const { snap, index } = await snapshotOf(await resolve(c, revision));
    return c.json(hfModelInfoSchema.parse(hfModelInfo(snap, index, await readConfig(snap))));
  }

  app.get("/api/models", async (c) => {
    const search = c.req.query("search")?.toLowerCase() ?? "";
    const author = c.req.query("author");
    const out = [];
    for (const m of await store.list()) {
      const [org, name] = m.id.split("/");
      if (author && org !== author) continue;
      if (search && !m.id.toLowerCase().includes(search)) continue;
      const rev = m.revisions.includes(DEFAULT_REVISION) ? DEFAULT_REVISION : m.revisions[0];
      const { snap, index } = await snapshotOf(await store.resolve(org, name, rev));
      out.push(hfModelInfo(snap, index, null));
    }
    return c.json(out);
  });

  app.get("/api/models/:org/:name", (c) => modelInfo(c, null));
  app.get(
    "/api/models/:org/:name/revision/:revision{.+}",
    (c) => modelInfo(c, c.req.param("revision")),
  );

  app.get("/api/models/:org/:name/tree/:revision/:path{.*}?", async (c) => {
    const { snap, index } = await snapshotOf(await resolve(c, c.req.param("revision")));
    const path = c.req.param("path") ?? "";
    if (path !== "") {
      throw new HttpError(404, "file_not_found", `no folder ${path}: files are flat`);
    }
    return c.json(hfTree(hfFiles(snap, index)).map((e) => hfTreeEntrySchema.parse(e)));
  });

  /** `resolve` serves the files; `raw` serves model files as their Git LFS pointers. */
  async function file(c: AppContext, raw: boolean): Promise<Response> {
    const ref = await resolve(c, c.req.param("revision"));
    const file = restOfPath(c.req.url, 4);
    if (file !== ORIGINAL_FILE && file !== CONTAINER_FILE && !SIDECAR.test(file)) {
      throw fileNotFound(ref, file);
    }
    const lease = await store.leases.acquire(ref.containerPath);
    let rep: Representation;
    try {
      const snap = await store.snapshot(ref, lease);
      const entry = hfFiles(snap, lease.container.index).find((f) => f.path === file);
      if (!entry) throw fileNotFound(ref, file);
      const headers: Record<string, string> = {
        "X-Repo-Commit": snap.commit,
        "X-Linked-Etag": `"${entry.sha256}"`,
        "X-Linked-Size": String(entry.size),
        "Content-Disposition": `inline; filename*=UTF-8''${
          encodeURIComponent(file)
        }; filename="${file}"`,
      };
      if (raw && entry.lfs) {
        const pointer = new TextEncoder().encode(lfsPointer(entry.sha256, entry.size));
        lease.release();
        rep = hashedBytesRepresentation(pointer, "text/plain; charset=utf-8", {
          "X-Repo-Commit": snap.commit,
        });
      } else if (file === ORIGINAL_FILE) {
        rep = await originalRepresentation(lease, ctx.chunks, headers);
      } else if (file === CONTAINER_FILE) {
        rep = containerRepresentation(lease, snap.containerSha256, headers);
      } else {
        lease.release();
        rep = await sidecarRepresentation(store, ref, file, headers);
      }
    } catch (e) {
      lease.release();
      throw e;
    }
    return respond(ctx, c, rep);
  }

  app.get("/:org/:name/resolve/:revision/:file{.+}", (c) => file(c, false));
  app.get("/:org/:name/raw/:revision/:file{.+}", (c) => file(c, true));
  return app;
}
