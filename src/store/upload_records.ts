/**
 * Upload records: `uploads/<sha256>.json` says that content `sha256` was uploaded at a time and
 * is waiting for a commit. Garbage collection keeps the content of a record younger than the
 * upload retention (24 hours by default), so that a push interrupted between its uploads and its
 * commit resumes without sending the files again; a commit that references the content removes
 * the record, since the commit now keeps it.
 * @module
 */
import type { ObjectStore } from "./object_store.ts";

/** Key of the upload record of `sha256`. */
export function uploadKey(sha256: string): string {
  return `uploads/${sha256}.json`;
}

/** Records (or refreshes) that content `sha256` was uploaded now; best effort. */
export async function touchUpload(objects: ObjectStore, sha256: string): Promise<void> {
  const key = uploadKey(sha256);
  const bytes = new TextEncoder().encode(
    JSON.stringify({ format: "tessera-upload/1", sha256, time: Date.now() }) + "\n",
  );
  for (let attempt = 0; attempt < 3; attempt++) {
    const cur = await objects.getRef(key);
    try {
      await objects.putRef(key, bytes, cur ? { ifMatch: cur.etag } : { ifNoneMatch: "*" });
      return;
    } catch {
      // another upload of the same content touched it meanwhile: try again
    }
  }
}

/** Removes the upload record of `sha256`, if any; best effort. */
export async function dropUpload(objects: ObjectStore, sha256: string): Promise<void> {
  const cur = await objects.getRef(uploadKey(sha256)).catch(() => null);
  if (cur) await objects.deleteRef(uploadKey(sha256), cur.etag).catch(() => {});
}

/** Every upload record: content and time (ms since the epoch). */
export async function listUploads(
  objects: ObjectStore,
): Promise<{ sha256: string; time: number }[]> {
  const out: { sha256: string; time: number }[] = [];
  for await (const o of objects.list("uploads/")) {
    const m = /^uploads\/([0-9a-f]{64})\.json$/.exec(o.key);
    if (!m) continue;
    let time = o.modifiedMs;
    try {
      const v = await objects.getRef(o.key);
      const parsed = v && JSON.parse(new TextDecoder().decode(v.bytes));
      if (typeof parsed?.time === "number") time = parsed.time;
    } catch {
      // unreadable: its modification time stands in
    }
    out.push({ sha256: m[1], time });
  }
  return out;
}
