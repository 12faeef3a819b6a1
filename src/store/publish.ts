/**
 * Publishing: a commit of any number of files, made visible by one conditional write of the
 * repo's refs. The order makes every crash safe:
 *
 * 1. the refs are read (one version: the branch head, and its entity tag);
 * 2. checks that need no new bytes: the branch exists when it must, `parentCommit` is the head,
 *    the caller's precondition on a file holds, every path is valid;
 * 3. the files' contents become objects (staged files stored now, uploaded ones looked up);
 * 4. the new commit object is written (content-addressed: nothing refers to it yet);
 * 5. the refs are replaced if still at the version read in 1; if another writer moved them, the
 *    publish starts again from 1 on the new head (or, with `parentCommit`, fails with 412).
 *
 * A process killed before 5 completes leaves the refs as they were: readers keep the old tree,
 * and what 3 and 4 wrote is unreferenced, for garbage collection. Publishes of one repo also run
 * one after the other within the process, and hold the collection lock shared from 3 to 5.
 * @module
 */
import {
  type Commit,
  decodeCommit,
  encodeCommit,
  fileAt,
  lastCommitOf,
  type TreeFile,
} from "./commit.ts";
import { StoreError } from "./errors.ts";
import { gitBlobOid, isLfs, lfsPointerOid } from "./git_objects.ts";
import {
  discardStaged,
  lookupContent,
  rawGitOid,
  type StagedFile,
  type StoredContent,
  storeStaged,
} from "./ingest.ts";
import { checkBranch, checkIdPart, checkRepoPath, COMMIT_ID } from "./names.ts";
import { commitKey, isRefConflict, writeRefs } from "./refs.ts";
import type { StoreCore } from "./store_core.ts";
import { dropUpload } from "./upload_records.ts";

/** One file a publish adds or replaces: staged in this request, or uploaded before by content. */
export interface FileChange {
  /** Path in the repo. */
  readonly path: string;
  /** The content. */
  readonly content: StagedFile | { readonly sha256: string };
}

/** A precondition on the current version of one file (If-Match / If-None-Match). */
export interface FileExpectation {
  /** The file. */
  readonly path: string;
  /** Given the file's current entity tag (null: no such file), whether to go ahead. */
  allows(etag: string | null): boolean;
}

/** What to publish. */
export interface PublishRequest {
  /** Commit title. */
  readonly title: string;
  /** Commit message body. */
  readonly message?: string;
  /** Who makes it. */
  readonly author?: string;
  /** The head the caller expects the branch to be at; 412 otherwise. For a new branch: where
   * it starts from. */
  readonly parentCommit?: string | null;
  /** The tree becomes exactly `files` (a folder push), instead of the head's tree plus `files`. */
  readonly replace?: boolean;
  /** Files added or replaced. */
  readonly files: readonly FileChange[];
  /** Paths removed; each must exist. */
  readonly deletes?: readonly string[];
  /** Only into an existing branch (a single-file write must not create a model). */
  readonly requireBranch?: boolean;
  /** A precondition on one file. */
  readonly expect?: FileExpectation;
}

/** What a publish did. */
export interface PublishOutcome {
  /** The branch head after the publish. */
  readonly commit: Commit;
  /** Whether a new commit was made (false: the tree was unchanged). */
  readonly created: boolean;
  /** Paths of `files` that did not exist in the branch before. */
  readonly newPaths: readonly string[];
}

/** The entity tag the server sends for a repo file: its SHA-256 in LFS, else its git blob id. */
export function fileEtag(f: TreeFile): string {
  return f.lfs ? f.sha256 : f.gitOid;
}

const isStaged = (c: FileChange["content"]): c is StagedFile => "scratchFile" in c;

async function checkJson(core: StoreCore, path: string, c: FileChange["content"]) {
  if (!path.endsWith(".json")) return;
  let bytes: Uint8Array | null;
  if (isStaged(c)) {
    bytes = c.container ? null : await Deno.readFile(c.scratchFile);
  } else {
    bytes = await core.objects.getObject(`blobs/${c.sha256}`, 256 << 20).catch(() => null);
  }
  if (!bytes) return;
  try {
    JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new StoreError(
      "invalid_file",
      `${path} is not valid UTF-8 JSON: ${(e as Error).message}`,
    );
  }
}

/** The tree entry of `path` holding `content`. */
async function treeFile(
  core: StoreCore,
  path: string,
  content: StoredContent,
  staged: StagedFile | null,
): Promise<TreeFile> {
  const lfs = content.container !== null || isLfs(path, content.size);
  let gitOid: string;
  if (lfs) gitOid = lfsPointerOid(content.sha256, content.size);
  else if (staged) gitOid = gitBlobOid(await Deno.readFile(staged.scratchFile));
  else gitOid = await rawGitOid(core.objects, content);
  return {
    path,
    size: content.size,
    sha256: content.sha256,
    gitOid,
    lfs,
    ...(content.container && { container: content.container }),
  };
}

/**
 * Publishes `req` on `branch` of `org/name`, creating the repo and the branch when needed (unless
 * `requireBranch`). Staged files are stored or discarded whatever happens.
 *
 * @example
 * ```ts
 * const staged = await receiveFile(core.objects, body, { maxBytes });
 * await publish(core, "acme", "tiny", "main", {
 *   title: "Upload model.safetensors",
 *   files: [{ path: "model.safetensors", content: staged }],
 * });
 * ```
 */
export async function publish(
  core: StoreCore,
  org: string,
  name: string,
  branchName: string | null,
  req: PublishRequest,
): Promise<PublishOutcome> {
  const pending = new Set(req.files.map((f) => f.content).filter(isStaged));
  try {
    checkIdPart(org, "org");
    checkIdPart(name, "name");
    const branch = checkBranch(branchName);
    const seen = new Set<string>();
    for (const p of [...req.files.map((f) => f.path), ...(req.deletes ?? [])]) {
      checkRepoPath(p);
      if (seen.has(p)) throw new StoreError("bad_name", `${p} appears twice in one commit`);
      seen.add(p);
    }
    if (req.parentCommit != null && !COMMIT_ID.test(req.parentCommit)) {
      throw new StoreError("bad_name", `parentCommit must be a 40-hex commit id`);
    }
    return await core.mutex.run(`${org}/${name}`, () =>
      core.gcLock.shared(async () => {
        for (let attempt = 0;; attempt++) {
          try {
            return await attemptPublish(core, org, name, branch, req, pending);
          } catch (e) {
            if (!isRefConflict(e) || attempt >= 8) throw e;
            if (req.parentCommit != null) {
              throw new StoreError(
                "precondition_failed",
                `${org}/${name}@${branch} moved while publishing: it is no longer at ` +
                  req.parentCommit,
              );
            }
          }
        }
      }));
  } finally {
    for (const s of pending) await discardStaged(s);
  }
}

async function attemptPublish(
  core: StoreCore,
  org: string,
  name: string,
  branch: string,
  req: PublishRequest,
  pending: Set<StagedFile>,
): Promise<PublishOutcome> {
  const id = `${org}/${name}`;
  const rv = await core.reader.refs(org, name).catch((e) => {
    if (e instanceof StoreError && e.kind === "model_not_found" && !req.requireBranch) return null;
    throw e;
  });
  const head = rv?.refs.branches[branch] ?? null;
  if (req.requireBranch && head === null) {
    throw new StoreError("revision_not_found", `model ${id} has no branch ${branch}`);
  }
  if (req.parentCommit != null && head !== null && head !== req.parentCommit) {
    throw new StoreError(
      "precondition_failed",
      `${id}@${branch} is at ${head}, not at the parentCommit ${req.parentCommit}`,
    );
  }
  const baseId = head ?? req.parentCommit ?? null;
  const base = baseId ? await core.reader.commit(org, name, baseId) : null;
  if (baseId && !base) {
    throw new StoreError("revision_not_found", `model ${id} has no commit ${baseId}`);
  }
  if (req.expect) {
    const cur = base ? fileAt(base, req.expect.path) : undefined;
    if (!req.expect.allows(cur ? fileEtag(cur) : null)) {
      throw new StoreError(
        "precondition_failed",
        `${id}@${branch}/${req.expect.path} ${
          cur ? `is at ${fileEtag(cur)}` : "does not exist"
        }, which the request's precondition rules out`,
      );
    }
  }
  const tree = new Map<string, TreeFile>();
  if (base && !req.replace) {
    for (const f of base.files) tree.set(f.path, { ...f, lastCommit: lastCommitOf(base, f) });
  }
  for (const p of req.deletes ?? []) {
    if (!tree.delete(p)) {
      throw new StoreError("file_not_found", `${id}@${branch} has no file ${p} to delete`);
    }
  }
  // Every content must exist, or be staged here, before anything is stored.
  const contents: StoredContent[] = [];
  for (const f of req.files) {
    const c = isStaged(f.content) ? f.content : await lookupContent(core.objects, f.content.sha256);
    if (!c) {
      throw new StoreError(
        "missing_upload",
        `${f.path}: no upload of content ${(f.content as { sha256: string }).sha256}; ` +
          "upload it first",
      );
    }
    if (f.path.endsWith(".safetensors") && !c.container) {
      throw new StoreError(
        "invalid_file",
        `${f.path}: content ${c.sha256} is not a valid safetensors file`,
      );
    }
    await checkJson(core, f.path, f.content);
    contents.push(c);
  }
  const newPaths: string[] = [];
  for (let i = 0; i < req.files.length; i++) {
    const f = req.files[i], c = contents[i];
    const staged = isStaged(f.content) && pending.has(f.content) ? f.content : null;
    const entry = await treeFile(core, f.path, c, staged);
    if (staged) {
      await storeStaged(core.objects, staged);
      pending.delete(staged);
    }
    const before = base ? fileAt(base, f.path) : undefined;
    if (!before) newPaths.push(f.path);
    // A file whose bytes did not change keeps the commit that last changed it.
    const kept = before && before.sha256 === entry.sha256;
    tree.set(f.path, kept ? { ...entry, lastCommit: lastCommitOf(base!, before) } : entry);
  }
  const files = [...tree.values()];
  const same = base && base.files.length === files.length &&
    files.every((f) => fileAt(base, f.path)?.sha256 === f.sha256);
  if (same && head !== null) return { commit: base!, created: false, newPaths };
  let commit: Commit;
  if (same) {
    commit = base!; // a new branch at an existing commit
  } else {
    const fields = {
      parent: baseId,
      date: new Date().toISOString(),
      title: req.title,
      message: req.message ?? "",
      author: req.author ?? "tessera",
      files,
    };
    const { id: commitId, bytes } = encodeCommit(fields);
    await core.objects.putObject(commitKey(org, name, commitId), { bytes });
    commit = decodeCommit(commitId, bytes);
  }
  const branches = { ...(rv?.refs.branches ?? {}), [branch]: commit.id };
  await writeRefs(core.objects, org, name, { branches }, rv?.etag ?? null);
  for (const c of contents) await dropUpload(core.objects, c.sha256);
  return { commit, created: !same, newPaths };
}

/**
 * Deletes `branch` of `org/name` (the repo with its last branch), if `expect` allows. The commits
 * only that branch reached stop resolving; garbage collection removes them and their contents.
 */
export async function deleteBranch(
  core: StoreCore,
  org: string,
  name: string,
  branchName: string | null,
  expect?: FileExpectation,
): Promise<void> {
  const branch = checkBranch(branchName);
  await core.mutex.run(`${org}/${name}`, async () => {
    for (let attempt = 0;; attempt++) {
      const rv = await core.reader.refs(org, name);
      const head = rv.refs.branches[branch];
      if (!head) {
        throw new StoreError("revision_not_found", `model ${org}/${name} has no branch ${branch}`);
      }
      if (expect) {
        const c = await core.reader.commit(org, name, head);
        const cur = c ? fileAt(c, expect.path) : undefined;
        if (!expect.allows(cur ? fileEtag(cur) : null)) {
          throw new StoreError(
            "precondition_failed",
            `${org}/${name}@${branch}/${expect.path} ${
              cur ? `is at ${fileEtag(cur)}` : "does not exist"
            }, which the request's precondition rules out`,
          );
        }
      }
      const branches = { ...rv.refs.branches };
      delete branches[branch];
      try {
        await writeRefs(core.objects, org, name, { branches }, rv.etag);
        return;
      } catch (e) {
        if (!isRefConflict(e) || attempt >= 8) throw e;
      }
    }
  });
}
