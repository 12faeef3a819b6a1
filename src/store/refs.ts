/**
 * A repo's refs: one small mutable object per repo (`repos/<org>/<name>/refs.json`) mapping each
 * branch to its head commit. A publish becomes visible by one conditional write of this object,
 * so a reader that reads it once sees one commit per branch, never a mix; a repo exists exactly
 * while its refs object does.
 * @module
 */
import { z } from "zod";
import { StoreError } from "./errors.ts";
import type { ObjectStore } from "./object_store.ts";

const refsSchema = z.object({
  format: z.literal("tessera-refs/1"),
  branches: z.record(z.string().regex(/^[0-9a-f]{40}$/)),
}).strict();

/** Branches and their head commits. */
export interface Refs {
  /** Branch name → commit id. */
  readonly branches: Readonly<Record<string, string>>;
}

/** A repo's refs as read, with the entity tag that a replacement must name. */
export interface RefsVersion {
  /** The refs. */
  readonly refs: Refs;
  /** Entity tag of the stored object. */
  readonly etag: string;
}

/** Key of the refs object of `org/name`. */
export function refsKey(org: string, name: string): string {
  return `repos/${org}/${name}/refs.json`;
}

/** Key of commit `id` of `org/name`. */
export function commitKey(org: string, name: string, id: string): string {
  return `repos/${org}/${name}/commits/${id}.json`;
}

/** The stored bytes of `refs`, branches sorted. */
export function encodeRefs(refs: Refs): Uint8Array {
  const branches = Object.fromEntries(
    Object.entries(refs.branches).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return new TextEncoder().encode(JSON.stringify({ format: "tessera-refs/1", branches }) + "\n");
}

// Branches parsed from a ref's bytes, for stores that return the same bytes while the ref is
// unchanged (the file store caches them): every request resolves a revision. Frozen, as shared.
const parsedBranches = new WeakMap<Uint8Array, Readonly<Record<string, string>>>();

/** Reads the refs of `org/name`, or null when the repo does not exist. */
export async function readRefs(
  store: ObjectStore,
  org: string,
  name: string,
): Promise<RefsVersion | null> {
  const v = await store.getRef(refsKey(org, name));
  if (!v) return null;
  let branches = parsedBranches.get(v.bytes);
  if (!branches) {
    try {
      branches = Object.freeze(
        refsSchema.parse(JSON.parse(new TextDecoder().decode(v.bytes))).branches,
      );
    } catch (e) {
      throw new Error(`stored refs of ${org}/${name} are malformed: ${e}`);
    }
    parsedBranches.set(v.bytes, branches);
  }
  return { refs: { branches }, etag: v.etag };
}

/**
 * Replaces the refs of `org/name` with `next` if they are still at `etag` (null: if the repo does
 * not exist yet). An empty branch map deletes the repo. Throws `ref_conflict` when another writer
 * changed them first.
 */
export async function writeRefs(
  store: ObjectStore,
  org: string,
  name: string,
  next: Refs,
  etag: string | null,
): Promise<void> {
  const key = refsKey(org, name);
  if (Object.keys(next.branches).length === 0) {
    if (etag === null) return;
    await store.deleteRef(key, etag);
    return;
  }
  await store.putRef(
    key,
    encodeRefs(next),
    etag === null ? { ifNoneMatch: "*" } : { ifMatch: etag },
  );
}

/** Whether `e` is a `ref_conflict`: another writer moved the ref first. */
export function isRefConflict(e: unknown): boolean {
  return e instanceof StoreError && e.kind === "ref_conflict";
}
