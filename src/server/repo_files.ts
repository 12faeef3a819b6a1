/**
 * Repo files as representations, with the headers the Hub sends: a safetensors file decoded from
 * its container, any other file from its stored bytes; `ETag` the SHA-256 for LFS files and the
 * git blob id for others; `X-Repo-Commit`, `X-Linked-Etag` and `X-Linked-Size` (LFS), `Last-Modified`
 * (the commit that last changed the file), `Content-Disposition`, and `Cache-Control`: immutable
 * for a URL that names a commit, revalidated (`no-cache`) for one that names a branch.
 * @module
 */
import type { Representation } from "../http/representation.ts";
import { lastCommitOf, type TreeFile } from "../store/commit.ts";
import { fileEtag } from "../store/publish.ts";
import type { Revision } from "../store/repo_reader.ts";
import type { ServerContext } from "./context.ts";
import { leasedRepresentation } from "./leased.ts";
import { originalRepresentation } from "./representations.ts";

/** `Cache-Control` of a commit-addressed URL: its bytes never change. */
export const IMMUTABLE = "public, max-age=31536000, immutable";
/** `Cache-Control` of a branch-addressed URL: cache, but ask again each time (ETag, 304). */
export const REVALIDATE = "no-cache";

/** Bytes read per step from a stored file. */
const READ_STEP = 1 << 20;

/** `Cache-Control` for a response about `rev`. */
export function cacheControl(rev: Revision): string {
  return rev.branch === null ? IMMUTABLE : REVALIDATE;
}

/** The content type of a repo file, by extension. */
export function contentType(path: string): string {
  const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  if (ext === "json") return "application/json; charset=utf-8";
  if (ext === "md") return "text/markdown; charset=utf-8";
  if (ext === "txt" || ext === "py" || ext === "yaml" || ext === "yml") {
    return "text/plain; charset=utf-8";
  }
  return "application/octet-stream";
}

/** `Content-Disposition` naming the file's last path segment, ASCII-safe and exact in UTF-8. */
export function contentDisposition(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `inline; filename*=UTF-8''${encodeURIComponent(base)}; filename="${ascii}"`;
}

/**
 * The Hub's headers for `file` of `rev`. The result is shared by later calls for the same file of
 * the same commit object: do not modify it.
 */
export function hubHeaders(rev: Revision, file: TreeFile): Readonly<Record<string, string>> {
  // Made once per commit, file and addressing (by branch or by commit): the date and the
  // disposition took 10 µs a response under the soak's load.
  let byFile = madeHeaders.get(rev.commit);
  if (!byFile) madeHeaders.set(rev.commit, byFile = new Map());
  const key = `${rev.branch === null ? "c" : "b"}${file.path}`;
  const made = byFile.get(key);
  if (made && made.file === file) return made.headers;
  const headers = {
    "X-Repo-Commit": rev.commit.id,
    "Last-Modified": new Date(lastCommitOf(rev.commit, file).date).toUTCString(),
    "Cache-Control": cacheControl(rev),
    "Content-Disposition": contentDisposition(file.path),
    ...(file.lfs && { "X-Linked-Etag": `"${file.sha256}"`, "X-Linked-Size": String(file.size) }),
  };
  byFile.set(key, { file, headers });
  return headers;
}

const madeHeaders = new WeakMap<
  Revision["commit"],
  Map<string, { file: TreeFile; headers: Readonly<Record<string, string>> }>
>();

/**
 * The bytes of `file` of `rev`: decoded from its container, or read from its stored bytes.
 *
 * @example
 * ```ts
 * return respond(ctx, c, await fileRepresentation(ctx, rev, fileAt(rev.commit, path)!));
 * ```
 */
export async function fileRepresentation(
  ctx: ServerContext,
  rev: Revision & { readonly variant?: string | null },
  file: TreeFile,
): Promise<Representation> {
  const headers = hubHeaders(rev, file);
  if (file.container) {
    // In a variant revision, a safetensors file holding the variant is that variant's file.
    const variant = rev.variant ?? undefined;
    return await leasedRepresentation(ctx, file.container.sha256, async (lease) => {
      const rep = await originalRepresentation(lease, ctx.chunks, headers, variant);
      return { ...rep, contentType: contentType(file.path) };
    });
  }
  const object = await ctx.store.openRaw(file);
  if (object.size !== file.size) {
    object.close();
    throw new Error(`stored ${file.path} is ${object.size} bytes, its commit says ${file.size}`);
  }
  return {
    size: file.size,
    contentType: contentType(file.path),
    etag: `"${fileEtag(file)}"`,
    sha256: file.sha256,
    headers,
    async *read(start, end, signal) {
      for (let at = start; at < end && !signal.aborted; at += READ_STEP) {
        yield await object.readAt(at, Math.min(READ_STEP, end - at));
      }
    },
    release: () => object.close(),
  };
}
