/**
 * Hugging Face Hub API bodies for a revision: model info with `siblings`, tree and `paths-info`
 * entries (files and directories, the real `size`, `lfs` for LFS files), refs and commits. Only
 * the repo's own files appear; the containers that store safetensors files stay on the /v1 routes.
 * @module
 */
import { createHash } from "node:crypto";
import type { z } from "zod";
import { dtypeWidth } from "../../codec/dtype.ts";
import { type Commit, lastCommitOf, type TreeFile } from "../store/commit.ts";
import { lfsPointer } from "../store/git_objects.ts";
import type { Revision } from "../store/repo_reader.ts";
import type { CommitView } from "./commit_views.ts";
import type {
  hfCommitSchema,
  hfModelInfoSchema,
  hfRefsSchema,
  hfTreeEntrySchema,
} from "./schemas.ts";

/** A model info body. */
export type HfModelInfo = z.infer<typeof hfModelInfoSchema>;
/** A tree or paths-info entry. */
export type HfTreeEntry = z.infer<typeof hfTreeEntrySchema>;
/** A refs body. */
export type HfRefs = z.infer<typeof hfRefsSchema>;
/** A commit of the commits list. */
export type HfCommit = z.infer<typeof hfCommitSchema>;

const pointerSize = (f: TreeFile) => new TextEncoder().encode(lfsPointer(f.sha256, f.size)).length;

/** The tree or paths-info entry of a file; `expand` adds the commit that last changed it. */
export function fileEntry(commit: Commit, f: TreeFile, expand: boolean): HfTreeEntry {
  return {
    type: "file",
    oid: f.gitOid,
    size: f.size,
    path: f.path,
    ...(f.lfs && { lfs: { oid: f.sha256, size: f.size, pointerSize: pointerSize(f) } }),
    ...(expand && { lastCommit: lastCommitOf(commit, f) }),
  };
}

/** A directory's id: a SHA-1 over its files' paths and ids (stable, not git's tree id). */
function directoryOid(files: readonly TreeFile[]): string {
  const h = createHash("sha1").update("tessera-tree\0");
  for (const f of files) h.update(`${f.path}\0${f.gitOid}\0`);
  return h.digest("hex");
}

/** The entry of directory `path`, whose files are `files`. */
function directoryEntry(commit: Commit, path: string, files: readonly TreeFile[], expand: boolean) {
  const latest =
    files.map((f) => lastCommitOf(commit, f)).sort((a, b) =>
      a.date < b.date ? 1 : a.date > b.date ? -1 : 0
    )[0];
  return {
    type: "directory" as const,
    oid: directoryOid(files),
    size: 0,
    path,
    ...(expand && latest && { lastCommit: latest }),
  };
}

/**
 * The entries under folder `path` ("" for the root): with `recursive`, every file and folder
 * below it, else its direct children. Folders come before the files they hold, in path order.
 * Returns null when `path` is neither a folder nor a file.
 */
export function treeEntries(
  commit: Commit,
  path: string,
  recursive: boolean,
  expand: boolean,
): HfTreeEntry[] | null {
  const prefix = path === "" ? "" : `${path}/`;
  const below = commit.files.filter((f) => f.path.startsWith(prefix));
  if (below.length === 0) {
    if (path === "") return [];
    return null;
  }
  const dirs = new Map<string, TreeFile[]>();
  const out: HfTreeEntry[] = [];
  for (const f of below) {
    const rest = f.path.slice(prefix.length).split("/");
    const depth = recursive ? rest.length - 1 : Math.min(1, rest.length - 1);
    for (let d = 1; d <= depth; d++) {
      const dir = prefix + rest.slice(0, d).join("/");
      const list = dirs.get(dir) ?? [];
      list.push(f);
      dirs.set(dir, list);
    }
    if (recursive || rest.length === 1) out.push(fileEntry(commit, f, expand));
  }
  for (const [dir, files] of dirs) out.push(directoryEntry(commit, dir, files, expand));
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The paths-info entries of `paths`: files and folders that exist, in the order asked. */
export function pathsInfo(
  commit: Commit,
  paths: readonly string[],
  expand: boolean,
): HfTreeEntry[] {
  const out: HfTreeEntry[] = [];
  for (const p of new Set(paths)) {
    const path = p.replace(/^\/+|\/+$/g, "");
    const file = commit.files.find((f) => f.path === path);
    if (file) {
      out.push(fileEntry(commit, file, expand));
      continue;
    }
    const below = commit.files.filter((f) => f.path.startsWith(`${path}/`));
    if (path !== "" && below.length > 0) out.push(directoryEntry(commit, path, below, expand));
  }
  return out;
}

/** Parameter counts by dtype, as the Hub's `safetensors` field. */
export function parameterCounts(
  view: CommitView,
): { parameters: Record<string, number>; total: number } {
  const parameters: Record<string, number> = {};
  let total = 0;
  for (const f of view.files) {
    for (const t of f.index.tensors) {
      const n = (t.offsets[1] - t.offsets[0]) / dtypeWidth(t.dtype);
      parameters[t.dtype] = (parameters[t.dtype] ?? 0) + n;
      total += n;
    }
  }
  return { parameters, total };
}

/**
 * The model info of `rev`; `config` is the parsed `config.json`, if any.
 *
 * @example
 * ```ts
 * hfModelInfo(rev, view, null).sha; // the commit id
 * ```
 */
export function hfModelInfo(
  rev: Revision,
  view: CommitView | null,
  config: Record<string, unknown> | null,
  createdAt: string,
): HfModelInfo {
  const { commit } = rev;
  const modelType = typeof config?.model_type === "string" ? config.model_type : null;
  return {
    _id: commit.id.slice(0, 24),
    id: rev.id,
    modelId: rev.id,
    author: rev.org,
    sha: commit.id,
    lastModified: commit.date,
    createdAt,
    private: false,
    disabled: false,
    gated: false,
    downloads: 0,
    likes: 0,
    tags: ["safetensors", "tessera", ...(modelType ? [modelType] : [])],
    ...(config && Array.isArray(config.architectures) && { library_name: "transformers" }),
    ...(config && { config }),
    siblings: commit.files.map((f) => ({
      rfilename: f.path,
      size: f.size,
      blobId: f.gitOid,
      ...(f.lfs && { lfs: { sha256: f.sha256, size: f.size, pointerSize: pointerSize(f) } }),
    })),
    ...(view && view.files.length > 0 && { safetensors: parameterCounts(view) }),
    usedStorage: commit.files.reduce((n, f) => n + (f.container?.size ?? f.size), 0),
  };
}

/**
 * The refs body of branches `branches`; `converts` lists derived revisions (the variant revisions
 * `<branch>@<variant>`, with their commit ids), as the Hub lists its conversions.
 */
export function hfRefs(
  branches: Readonly<Record<string, string>>,
  prs: boolean,
  converts: readonly { name: string; commit: string }[] = [],
): HfRefs {
  return {
    branches: Object.entries(branches).sort(([a], [b]) => (a < b ? -1 : 1)).map((
      [name, targetCommit],
    ) => ({ name, ref: `refs/heads/${name}`, targetCommit })),
    converts: converts.map((c) => ({
      name: c.name,
      ref: `refs/convert/${c.name}`,
      targetCommit: c.commit,
    })),
    tags: [],
    ...(prs && { pullRequests: [] }),
  };
}

/** One commit of the commits list. */
export function hfCommit(c: Commit): HfCommit {
  return {
    id: c.id,
    title: c.title,
    message: c.message,
    authors: [{ user: c.author, avatar: "" }],
    date: c.date,
  };
}
