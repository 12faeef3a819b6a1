/**
 * Variant revisions: every variant the safetensors files of a revision hold is also a revision of
 * its own, named `<revision>@<variant>` (`main@int8`, `<commit id>@ternary:3`; also
 * `refs/convert/main@int8`, as the refs list names it). Its files are the revision's, except that
 * each safetensors file holding the variant is that variant's file: the same header and size, the
 * tensors dequantised, its own SHA-256 (recorded in the container, so nothing is decoded to list
 * it). Any Hugging Face client downloads it as a standard safetensors file.
 *
 * Such a revision is derived, not stored: it is presented as a commit of its own whose parent is
 * the stored commit, with the id `sha1("tessera-variant\0" + commit + "\0" + variant)` (40 hex
 * digits, so clients cache it under its own snapshot), which resolves too: ids seen since start
 * are remembered, and an unknown one is looked for in the variants of the history of every branch.
 * Branch-named variant revisions follow their branch; an id or `<commit>@<variant>` never changes.
 * @module
 */
import { createHash } from "node:crypto";
import { VARIANT_NAME } from "../../codec/variants/encoding.ts";
import { ContainerError } from "../container/errors.ts";
import { variantNames } from "../container/variant_stats.ts";
import { HttpError } from "../http/http_error.ts";
import type { Commit, TreeFile } from "../store/commit.ts";
import { StoreError } from "../store/errors.ts";
import { lfsPointerOid } from "../store/git_objects.ts";
import { COMMIT_ID } from "../store/names.ts";
import type { Revision } from "../store/repo_reader.ts";
import type { RepoStore } from "../store/repo_store.ts";
import type { CommitView, CommitViews } from "./commit_views.ts";

/** A revision as the server serves it: stored, or a variant revision of a stored one. */
export interface ServedRevision extends Revision {
  /** The variant a variant revision serves; null for a stored revision. */
  readonly variant: string | null;
  /** The stored commit (the same as `commit` for a stored revision). */
  readonly source: Commit;
}

/** What resolving needs of the server. */
export interface RevisionContext {
  /** The repos. */
  readonly store: RepoStore;
  /** Commit views (each commit's container indexes). */
  readonly views: CommitViews;
}

/** The prefix under which the refs list names variant revisions (as the Hub names conversions). */
export const CONVERT_PREFIX = "refs/convert/";

/** Most commits an unknown id is looked for in, over all branches. */
const MAX_SCAN = 10_000;

/**
 * The id of variant `variant` of commit `commit`.
 *
 * @example
 * ```ts
 * variantCommitId("0123…", "int8"); // 40 hex digits
 * ```
 */
export function variantCommitId(commit: string, variant: string): string {
  return createHash("sha1").update(`tessera-variant\0${commit}\0${variant}`).digest("hex");
}

/**
 * Splits a revision into the stored revision and the variant: `main@int8` is `main` and `int8`;
 * `refs/convert/` in front is dropped; a revision without a variant suffix is itself and null.
 * Branch names cannot hold `@`, and variant names cannot hold `@` or `/`.
 */
export function splitVariantRevision(
  revision: string | null | undefined,
): { base: string | null | undefined; variant: string | null } {
  if (!revision) return { base: revision, variant: null };
  const r = revision.startsWith(CONVERT_PREFIX) ? revision.slice(CONVERT_PREFIX.length) : revision;
  const at = r.lastIndexOf("@");
  if (at < 0) return { base: revision, variant: null };
  const variant = r.slice(at + 1);
  if (!VARIANT_NAME.test(variant)) {
    throw new StoreError(
      "bad_name",
      `"${revision}": a variant revision is <revision>@<variant>, the variant named as ` +
        `${VARIANT_NAME}`,
    );
  }
  return { base: r.slice(0, at) || null, variant };
}

/** The variant names the files of `view` hold. */
export function viewVariants(view: CommitView): string[] {
  return variantNames(view.files.map((f) => f.index));
}

/**
 * The commit that presents variant `variant` of `source` (whose view is `view`): the same files,
 * each safetensors file that holds the variant replaced by the variant's file (its SHA-256, the
 * git blob id of its LFS pointer, changed by this commit).
 */
export function variantCommit(source: Commit, view: CommitView, variant: string): Commit {
  const id = variantCommitId(source.id, variant);
  const title = `Variant ${variant} of ${source.id.slice(0, 12)}`;
  const changed = { id, date: source.date, title };
  const byPath = new Map(view.files.map((f) => [f.file.path, f]));
  const files = source.files.map((f): TreeFile => {
    const v = byPath.get(f.path)?.index.variants?.find((x) => x.name === variant);
    if (!v) return f;
    return {
      ...f,
      sha256: v.sha256,
      gitOid: lfsPointerOid(v.sha256, f.size),
      lfs: true,
      lastCommit: changed,
    };
  });
  return {
    id,
    parent: source.id,
    date: source.date,
    title,
    message: `Derived by Tessera: each safetensors file that holds variant ${variant} is served ` +
      "as that variant's file, its tensors dequantised to their dtype.",
    author: "tessera",
    files,
  };
}

// Variant commit ids seen, per store: id -> the stored commit and the variant.
const known = new WeakMap<
  RepoStore,
  Map<string, { repo: string; commit: string; variant: string }>
>();

/** Variant commit ids remembered per store; the oldest go first (a scan finds them again). */
const MAX_KNOWN = 100_000;

function remember(store: RepoStore, repo: string, commit: string, variant: string): string {
  let m = known.get(store);
  if (!m) known.set(store, m = new Map());
  const id = variantCommitId(commit, variant);
  m.delete(id);
  m.set(id, { repo, commit, variant });
  if (m.size > MAX_KNOWN) m.delete(m.keys().next().value!);
  return id;
}

/**
 * Resolves `revision` of `org/name` as a reader names it: a branch, `HEAD`, a commit id, a
 * variant revision (`<revision>@<variant>`, `refs/convert/<revision>@<variant>`) or a variant
 * revision's id. A variant none of the revision's files hold is `revision_not_found`.
 *
 * @example
 * ```ts ignore
 * const rev = await resolveRevision(ctx, "demo", "stories260k", "main@int8");
 * rev.variant; // "int8"
 * rev.commit.id; // the variant revision's id, as X-Repo-Commit gives it
 * ```
 */
export async function resolveRevision(
  ctx: RevisionContext,
  org: string,
  name: string,
  revision: string | null | undefined,
): Promise<ServedRevision> {
  const { base, variant } = splitVariantRevision(revision);
  if (variant === null) {
    try {
      const rev = await ctx.store.reader.resolve(org, name, base);
      return { ...rev, variant: null, source: rev.commit };
    } catch (e) {
      if (
        !(e instanceof StoreError && e.kind === "revision_not_found" && COMMIT_ID.test(base ?? ""))
      ) throw e;
      const found = await findVariantCommit(ctx, org, name, base!);
      if (!found) throw e;
      const rev = await ctx.store.reader.resolve(org, name, found.commit);
      return await asVariant(ctx, rev, found.variant, base!);
    }
  }
  const rev = await ctx.store.reader.resolve(org, name, base);
  return await asVariant(ctx, rev, variant, revision!);
}

/** `rev` as its variant revision `variant`, named `asked`. */
async function asVariant(
  ctx: RevisionContext,
  rev: Revision,
  variant: string,
  asked: string,
): Promise<ServedRevision> {
  const view = await ctx.views.get(rev.id, rev.commit);
  if (!viewVariants(view).includes(variant)) {
    const held = viewVariants(view);
    throw new StoreError(
      "revision_not_found",
      `${rev.id}@${rev.revision} holds no variant ${variant}` +
        (held.length > 0 ? `; its variants are ${held.join(", ")}` : "; it holds none"),
    );
  }
  remember(ctx.store, rev.id, rev.commit.id, variant);
  const commit = variantCommit(rev.commit, view, variant);
  return { ...rev, revision: asked, commit, variant, source: rev.commit };
}

/** The stored commit and variant behind variant revision id `id`, or null. */
async function findVariantCommit(
  ctx: RevisionContext,
  org: string,
  name: string,
  id: string,
): Promise<{ commit: string; variant: string } | null> {
  const repo = `${org}/${name}`;
  const hit = known.get(ctx.store)?.get(id);
  if (hit && hit.repo === repo) return hit;
  const { refs } = await ctx.store.reader.refs(org, name);
  const seen = new Set<string>();
  for (const head of Object.values(refs.branches)) {
    const start = await ctx.store.reader.commit(org, name, head);
    if (!start) continue;
    for await (const c of ctx.store.reader.history(org, name, start)) {
      if (seen.has(c.id) || seen.size >= MAX_SCAN) break;
      seen.add(c.id);
      for (const v of viewVariants(await ctx.views.get(repo, c))) {
        if (remember(ctx.store, repo, c.id, v) === id) return { commit: c.id, variant: v };
      }
    }
  }
  return null;
}

/**
 * The variant revisions of the branches `branches` (name → head commit): `<branch>@<variant>` for
 * every variant its head's files hold, with the variant revision's id.
 */
export async function branchVariants(
  ctx: RevisionContext,
  org: string,
  name: string,
  branches: Readonly<Record<string, string>>,
): Promise<{ name: string; commit: string }[]> {
  const repo = `${org}/${name}`, out: { name: string; commit: string }[] = [];
  for (const [branch, head] of Object.entries(branches).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const c = await ctx.store.reader.commit(org, name, head);
    if (!c) continue;
    for (const v of viewVariants(await ctx.views.get(repo, c))) {
      out.push({ name: `${branch}@${v}`, commit: remember(ctx.store, repo, c.id, v) });
    }
  }
  return out;
}

/**
 * The variant a request asks of `rev` (whose stored commit's view is `view`): the `variant` query
 * parameter, or the variant revision's; null for none. Both, differing, are a `bad_query` error;
 * a variant none of the revision's files hold is `variant_not_found`.
 */
export function requestedVariant(
  rev: ServedRevision,
  view: CommitView,
  asked: string | undefined,
): string | null {
  if (asked !== undefined && rev.variant !== null && asked !== rev.variant) {
    throw new HttpError(
      400,
      "bad_query",
      `variant=${asked} contradicts the variant revision ${rev.revision}`,
    );
  }
  const name = asked ?? rev.variant;
  if (name !== null && !viewVariants(view).includes(name)) {
    const held = viewVariants(view);
    throw new ContainerError(
      "variant_not_found",
      `${rev.id}@${rev.revision} holds no variant ${name}` +
        (held.length > 0 ? `; its variants are ${held.join(", ")}` : "; it holds none"),
    );
  }
  return name;
}
