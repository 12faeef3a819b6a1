/**
 * Reading repos: the list of repos, a repo's branches, a revision resolved to its commit, and a
 * branch's history. Commits are immutable and checked against their ids, so they are cached by
 * key; refs are read on every resolve, so a publish is seen by the next request.
 * @module
 */
import { type Commit, decodeCommit } from "./commit.ts";
import { StoreError } from "./errors.ts";
import { checkIdPart, checkRevision, COMMIT_ID, DEFAULT_REVISION } from "./names.ts";
import type { ObjectStore } from "./object_store.ts";
import { commitKey, readRefs, type RefsVersion } from "./refs.ts";

/** A revision resolved to its commit. */
export interface Revision {
  /** Org. */
  readonly org: string;
  /** Model name. */
  readonly name: string;
  /** `org/name`. */
  readonly id: string;
  /** The revision as asked: a branch name, or a commit id. */
  readonly revision: string;
  /** The branch, when the revision names one; null for a commit id. */
  readonly branch: string | null;
  /** The commit. */
  readonly commit: Commit;
}

/** One repo as listed. */
export interface RepoListing {
  /** `org/name`. */
  readonly id: string;
  /** Branch names, sorted. */
  readonly branches: readonly string[];
}

/** Largest commit object read (a tree of about 20,000 files). */
export const MAX_COMMIT_BYTES = 16 << 20;

/** The read side of the repo store. */
export interface RepoReader {
  /** Every repo, sorted by id. */
  list(): Promise<RepoListing[]>;
  /** The refs of `org/name`; throws `bad_name` or `model_not_found`. */
  refs(org: string, name: string): Promise<RefsVersion>;
  /**
   * Resolves `revision` of `org/name`: a branch, `refs/heads/<branch>`, `HEAD` (the default
   * branch unless one is called so) or a commit id of the repo that is still stored. Throws
   * `bad_name`, `model_not_found` or `revision_not_found`.
   */
  resolve(org: string, name: string, revision: string | null | undefined): Promise<Revision>;
  /** Commit `id` of `org/name`, or null when it is not stored. */
  commit(org: string, name: string, id: string): Promise<Commit | null>;
  /** `from` and its ancestors, newest first. */
  history(org: string, name: string, from: Commit): AsyncGenerator<Commit>;
}

/**
 * Creates the reader over `objects`, caching up to `cacheSize` commits.
 *
 * @example
 * ```ts
 * const reader = createRepoReader(objects);
 * const rev = await reader.resolve("demo", "stories260k", "main");
 * console.log(rev.commit.id, rev.commit.files.map((f) => f.path));
 * ```
 */
export function createRepoReader(objects: ObjectStore, cacheSize = 1024): RepoReader {
  const cache = new Map<string, Commit>();

  async function commit(org: string, name: string, id: string): Promise<Commit | null> {
    const key = commitKey(org, name, id);
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const bytes = await objects.getObject(key, MAX_COMMIT_BYTES);
    if (!bytes) return null;
    const c = decodeCommit(id, bytes);
    cache.set(key, c);
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    return c;
  }

  async function refs(org: string, name: string): Promise<RefsVersion> {
    checkIdPart(org, "org");
    checkIdPart(name, "name");
    const rv = await readRefs(objects, org, name);
    if (!rv) throw new StoreError("model_not_found", `no model ${org}/${name}`);
    return rv;
  }

  return {
    async list() {
      const out: RepoListing[] = [];
      for await (const o of objects.list("repos/")) {
        const m = /^repos\/([^/]+)\/([^/]+)\/refs\.json$/.exec(o.key);
        if (!m) continue;
        const rv = await readRefs(objects, m[1], m[2]).catch(() => null);
        if (!rv) continue;
        out.push({ id: `${m[1]}/${m[2]}`, branches: Object.keys(rv.refs.branches).sort() });
      }
      return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
    refs,
    async resolve(org, name, revision) {
      const wanted = checkRevision(revision ?? null);
      const { refs: r } = await refs(org, name);
      const id = `${org}/${name}`;
      let branch: string | null = null, commitId: string | undefined;
      if (wanted in r.branches) {
        branch = wanted;
        commitId = r.branches[wanted];
      } else if (revision === "HEAD" && DEFAULT_REVISION in r.branches) {
        branch = DEFAULT_REVISION;
        commitId = r.branches[DEFAULT_REVISION];
      } else if (COMMIT_ID.test(wanted)) {
        commitId = wanted;
      }
      const c = commitId ? await commit(org, name, commitId) : null;
      if (!c) {
        const branches = Object.keys(r.branches).sort().join(", ");
        throw new StoreError(
          "revision_not_found",
          `model ${id} has no revision ${wanted}; its branches are ${branches}`,
        );
      }
      return { org, name, id, revision: branch ?? c.id, branch, commit: c };
    },
    commit,
    async *history(org, name, from) {
      let c: Commit | null = from;
      const seen = new Set<string>();
      while (c && !seen.has(c.id)) {
        seen.add(c.id);
        yield c;
        c = c.parent ? await commit(org, name, c.parent) : null;
      }
    },
  };
}
