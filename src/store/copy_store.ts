/**
 * Copies every object and ref of one store into another (a folder into a bucket, say): objects
 * first, each staged through the destination's scratch folder in 8 MiB reads, then refs, so the
 * destination never names an object it does not hold yet. Objects it already holds are skipped
 * (create-if-absent); a ref it already has is left as it is and reported.
 * @module
 */
import type { ObjectStore } from "./object_store.ts";

/** Keys that are refs (mutable): a repo's branches and pending upload records. */
export function isRefKey(key: string): boolean {
  return /^repos\/[^/]+\/[^/]+\/refs\.json$/.test(key) || /^uploads\/[0-9a-f]{64}\.json$/.test(key);
}

/** What a copy did. */
export interface CopyReport {
  /** Objects written. */
  readonly objects: number;
  /** Their bytes. */
  readonly bytes: number;
  /** Refs written. */
  readonly refs: number;
  /** Refs the destination already had (left as they were). */
  readonly kept: readonly string[];
}

/**
 * Copies `from` into `to`.
 *
 * @example
 * ```ts ignore
 * await copyStore(await openFileObjectStore("./models"), await openS3ObjectStore("s3://m/hub"));
 * ```
 */
export async function copyStore(from: ObjectStore, to: ObjectStore): Promise<CopyReport> {
  const refs: string[] = [];
  let objects = 0, bytes = 0;
  for await (const info of from.list("")) {
    if (isRefKey(info.key)) {
      refs.push(info.key);
      continue;
    }
    const src = await from.openObject(info.key);
    if (!src) continue;
    const staged = `${to.scratchDir}/copy-${crypto.randomUUID()}`;
    try {
      const file = await Deno.open(staged, { write: true, createNew: true });
      try {
        for (let at = 0; at < src.size; at += 8 << 20) {
          const part = await src.readAt(at, Math.min(8 << 20, src.size - at));
          for (let done = 0; done < part.length;) done += await file.write(part.subarray(done));
        }
      } finally {
        file.close();
      }
      if (await to.putObject(info.key, { file: staged })) objects++, bytes += src.size;
    } finally {
      src.close();
      await Deno.remove(staged).catch(() => {});
    }
  }
  const kept: string[] = [];
  let written = 0;
  for (const key of refs) {
    const v = await from.getRef(key);
    if (!v) continue;
    try {
      await to.putRef(key, v.bytes, { ifNoneMatch: "*" });
      written++;
    } catch {
      kept.push(key);
    }
  }
  return { objects, bytes, refs: written, kept };
}
