/**
 * Where a store lives, as `--store` names it: `file:DIR` (or a plain folder path, as `--models`
 * gives it) is a local folder; `s3://bucket/prefix` is a bucket of S3-compatible object storage
 * (configured from the AWS environment variables: `s3_config.ts`), behind the same
 * {@link ObjectStore} interface.
 * @module
 */
import { StoreError } from "./errors.ts";
import { openFileObjectStore } from "./file_object_store.ts";
import type { ObjectStore } from "./object_store.ts";

/** An opened storage and, for a local one, its folder. */
export interface OpenedStorage {
  /** The objects. */
  readonly objects: ObjectStore;
  /** The local folder, or null for remote storage. */
  readonly folder: string | null;
}

/**
 * The folder a `file:` store URL or plain path names, or null for another scheme.
 *
 * @example
 * ```ts
 * storeFolder("file:./models"); // "./models"
 * storeFolder("/srv/models"); // "/srv/models"
 * storeFolder("s3://bucket/models"); // null
 * ```
 */
export function storeFolder(store: string): string | null {
  if (store.startsWith("file://")) return decodeURIComponent(new URL(store).pathname);
  if (store.startsWith("file:")) return store.slice("file:".length);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(store)) return null;
  return store;
}

/** Opens the storage `store` names. */
export async function openStorage(store: string): Promise<OpenedStorage> {
  const folder = storeFolder(store);
  if (folder === null) {
    if (store.startsWith("s3://")) {
      const { openS3ObjectStore } = await import("./s3_object_store.ts");
      return { objects: await openS3ObjectStore(store), folder: null };
    }
    throw new StoreError(
      "bad_name",
      `unsupported store ${JSON.stringify(store)}: use file:DIR or s3://bucket/prefix`,
    );
  }
  if (folder === "") throw new StoreError("bad_name", "the store folder is empty");
  return { objects: await openFileObjectStore(folder), folder };
}
