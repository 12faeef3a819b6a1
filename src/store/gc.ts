/**
 * Garbage collection: removes what no branch reaches. Retention is:
 *
 * - every commit reachable from a branch head is kept, with every content its tree names, so a
 *   commit id resolves for as long as some branch has it in its history;
 * - a deleted branch's commits that no other branch reaches are removed, with the contents only
 *   they named;
 * - an uploaded content that no commit names is kept while its upload record is younger than the
 *   upload retention (24 hours by default), so an interrupted push resumes; then removed;
 * - commit objects no branch reaches (a publish killed before its refs were switched) are removed.
 *
 * It runs with the collection lock held exclusively, so no publish of this process is between
 * storing contents and switching its refs. Across processes sharing one object store (S3
 * replicas), that lock is not enough: there an unreferenced object is removed only once it is
 * older than the store's **age grace** (`StoreCore.gcGraceMs`: 1 hour for object storage, 0 for a
 * folder, which one process holds), so a publish on another replica has that long between
 * storing an object and switching the ref that names it. A dry run lists what would go.
 * @module
 */
import type { Commit } from "./commit.ts";
import { packedKey } from "./ingest.ts";
import { blobKey } from "./object_store.ts";
import { readRefs } from "./refs.ts";
import type { StoreCore } from "./store_core.ts";
import { listUploads, uploadKey } from "./upload_records.ts";

/** What a collection removed. */
export interface GcReport {
  /** Commit objects removed. */
  readonly commits: number;
  /** Content objects (blobs) removed. */
  readonly blobs: number;
  /** Their bytes. */
  readonly bytes: number;
  /** Expired upload records removed. */
  readonly uploads: number;
  /** Keys removed (or, in a dry run, that would be). */
  readonly removed: readonly string[];
  /** Unreferenced objects kept because they are younger than the age grace. */
  readonly young: number;
}

/** Options of {@link collectGarbage}. */
export interface GcOptions {
  /** The time now, ms since the epoch. */
  readonly now?: number;
  /** List what would be removed, remove nothing. */
  readonly dryRun?: boolean;
}

/**
 * Collects garbage in the store of `core`.
 *
 * @example
 * ```ts
 * const r = await collectGarbage(core);
 * console.log(`removed ${r.blobs} blobs (${r.bytes} bytes)`);
 * ```
 */
export function collectGarbage(core: StoreCore, options: GcOptions = {}): Promise<GcReport> {
  const now = options.now ?? Date.now();
  const dry = options.dryRun ?? false;
  return core.gcLock.exclusive(async () => {
    const { objects } = core;
    const removed: string[] = [];
    let young = 0;
    // An unreferenced object younger than the grace may belong to a publish in progress elsewhere.
    const old = (o: { modifiedMs: number }) => {
      if (now - o.modifiedMs >= core.gcGraceMs) return true;
      young++;
      return false;
    };
    const remove = async (key: string) => {
      removed.push(key);
      if (!dry) await objects.deleteObject(key);
    };
    const liveCommits = new Set<string>();
    const liveBlobs = new Set<string>();
    const livePacked = new Set<string>();
    const keep = (c: Commit) => {
      for (const f of c.files) {
        if (f.container) {
          liveBlobs.add(f.container.sha256);
          livePacked.add(f.sha256);
        } else liveBlobs.add(f.sha256);
      }
    };
    for await (const o of objects.list("repos/")) {
      const m = /^repos\/([^/]+)\/([^/]+)\/refs\.json$/.exec(o.key);
      if (!m) continue;
      const [, org, name] = m;
      const rv = await readRefs(objects, org, name);
      if (!rv) continue;
      for (const head of Object.values(rv.refs.branches)) {
        let id: string | null = head;
        while (id && !liveCommits.has(`repos/${org}/${name}/commits/${id}.json`)) {
          liveCommits.add(`repos/${org}/${name}/commits/${id}.json`);
          const c: Commit | null = await core.reader.commit(org, name, id);
          if (!c) {
            core.log(`WARNING ${org}/${name}: commit ${id} is missing from the store`);
            break;
          }
          keep(c);
          id = c.parent;
        }
      }
    }
    let uploads = 0;
    for (const u of await listUploads(objects)) {
      if (now - u.time > core.uploadTtlMs) {
        const cur = await objects.getRef(uploadKey(u.sha256));
        removed.push(uploadKey(u.sha256));
        if (cur && !dry) await objects.deleteRef(uploadKey(u.sha256), cur.etag).catch(() => {});
        uploads++;
        continue;
      }
      livePacked.add(u.sha256);
      liveBlobs.add(u.sha256);
    }
    let commits = 0;
    for await (const o of objects.list("repos/")) {
      if (/\/commits\/[0-9a-f]{40}\.json$/.test(o.key) && !liveCommits.has(o.key) && old(o)) {
        await remove(o.key);
        commits++;
      }
    }
    for await (const o of objects.list("packed/")) {
      const m = /^packed\/([0-9a-f]{64})\.json$/.exec(o.key);
      if (!m) continue;
      if (!livePacked.has(m[1])) {
        if (old(o)) await remove(o.key);
        continue;
      }
      // An upload that is waiting for its commit keeps its container.
      const record = await objects.getObject(packedKey(m[1]), 1 << 16);
      const container = record && JSON.parse(new TextDecoder().decode(record))?.container?.sha256;
      if (typeof container === "string") liveBlobs.add(container);
    }
    let blobs = 0, bytes = 0;
    for await (const o of objects.list("blobs/")) {
      const sha = o.key.slice("blobs/".length);
      if (liveBlobs.has(sha) || !old(o)) continue;
      if (!dry) core.leases.forget(sha);
      await remove(blobKey(sha));
      blobs++;
      bytes += o.size;
    }
    return { commits, blobs, bytes, uploads, removed, young };
  });
}
