/**
 * Commits: what a revision of a repo is. A commit is a small JSON object holding its parent, its
 * time, its message and its whole tree (every file's path, size, SHA-256, git blob id and, for a
 * safetensors file, the container that stores it). Its id is the SHA-1 of its bytes, 40 hex
 * digits as on the Hub, so the id names the exact tree and history, and a stored commit is
 * checked against its id whenever it is read.
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { StoreError } from "./errors.ts";

const hex256 = z.string().regex(/^[0-9a-f]{64}$/);
const hex40 = z.string().regex(/^[0-9a-f]{40}$/);
const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** The commit that last changed a file. */
export const lastCommitSchema = z.object({ id: hex40, date: z.string(), title: z.string() });

/** One file of a tree. */
export const treeFileSchema = z.object({
  path: z.string().min(1),
  size: uint,
  sha256: hex256,
  gitOid: hex40.describe("git blob id: of the LFS pointer for LFS files, of the bytes otherwise"),
  lfs: z.boolean(),
  container: z.object({ sha256: hex256, size: uint }).optional().describe(
    "the .tsr container that stores this safetensors file; absent: stored as is",
  ),
  lastCommit: lastCommitSchema.optional().describe("absent: the commit holding the tree"),
}).strict();

const commitBodySchema = z.object({
  format: z.literal("tessera-commit/1"),
  parent: hex40.nullable(),
  date: z.string(),
  title: z.string(),
  message: z.string(),
  author: z.string(),
  files: z.array(treeFileSchema),
}).strict();

/** A file of a tree. */
export type TreeFile = z.infer<typeof treeFileSchema>;
/** The commit that last changed a file. */
export type LastCommit = z.infer<typeof lastCommitSchema>;

/** A commit and its id. */
export interface Commit {
  /** 40-hex SHA-1 of the stored bytes. */
  readonly id: string;
  /** The previous commit of the branch, or null for the first. */
  readonly parent: string | null;
  /** When it was made, ISO 8601 UTC. */
  readonly date: string;
  /** First line of the message. */
  readonly title: string;
  /** The rest of the message. */
  readonly message: string;
  /** Who made it (the server records `tessera` for token writes). */
  readonly author: string;
  /** Every file, sorted by path. */
  readonly files: readonly TreeFile[];
}

/** What a new commit holds; its id is computed. */
export type CommitFields = Omit<Commit, "id">;

const sha1 = (bytes: Uint8Array) => createHash("sha1").update(bytes).digest("hex");

const byPath = (a: TreeFile, b: TreeFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * The stored bytes of a commit and its id. Keys are written in a fixed order and files sorted by
 * path, so equal commits have equal ids.
 *
 * @example
 * ```ts
 * const { id, bytes } = encodeCommit({ parent: null, date: new Date().toISOString(),
 *   title: "first", message: "", author: "tessera", files: [] });
 * ```
 */
export function encodeCommit(fields: CommitFields): { id: string; bytes: Uint8Array } {
  const files = [...fields.files].sort(byPath).map((f) => ({
    path: f.path,
    size: f.size,
    sha256: f.sha256,
    gitOid: f.gitOid,
    lfs: f.lfs,
    ...(f.container && { container: { sha256: f.container.sha256, size: f.container.size } }),
    ...(f.lastCommit &&
      { lastCommit: { id: f.lastCommit.id, date: f.lastCommit.date, title: f.lastCommit.title } }),
  }));
  const body = {
    format: "tessera-commit/1" as const,
    parent: fields.parent,
    date: fields.date,
    title: fields.title,
    message: fields.message,
    author: fields.author,
    files,
  };
  const bytes = new TextEncoder().encode(JSON.stringify(body) + "\n");
  return { id: sha1(bytes), bytes };
}

/**
 * Parses stored commit `bytes`, checking them against `id`; throws a `StoreError` otherwise.
 */
export function decodeCommit(id: string, bytes: Uint8Array): Commit {
  if (sha1(bytes) !== id) {
    throw new StoreError("revision_not_found", `stored commit ${id} does not match its id`);
  }
  let parsed;
  try {
    parsed = commitBodySchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
  } catch (e) {
    throw new StoreError("revision_not_found", `stored commit ${id} is malformed: ${e}`);
  }
  const { format: _, ...rest } = parsed;
  return { id, ...rest };
}

/** The file at `path` in `commit`, or undefined. */
export function fileAt(commit: Commit, path: string): TreeFile | undefined {
  // Trees are sorted: a binary search keeps large repos cheap.
  let lo = 0, hi = commit.files.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const p = commit.files[mid].path;
    if (p === path) return commit.files[mid];
    if (p < path) lo = mid + 1;
    else hi = mid;
  }
  return undefined;
}

/** The commit that last changed `file` of `commit`. */
export function lastCommitOf(commit: Commit, file: TreeFile): LastCommit {
  return file.lastCommit ?? { id: commit.id, date: commit.date, title: commit.title };
}
