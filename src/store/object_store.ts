/**
 * The storage interface under the model store, shaped after object storage so that an S3 bucket
 * can implement it as directly as a local folder does (`file_object_store.ts`):
 *
 * - **Objects** are immutable once written and read with ranged reads. Their keys are content
 *   addresses (`blobs/<sha256>`, `repos/<org>/<name>/commits/<id>.json`), so a key always names the
 *   same bytes and a write is create-if-absent: writing a key that exists changes nothing.
 *   S3: `PUT` with `If-None-Match: *` (multipart for large files), `GET` with `Range`.
 * - **Refs** are small mutable objects replaced by compare-and-swap on an opaque entity tag: the
 *   one place where the store changes what a name means. S3: `PUT` with `If-Match: <etag>` or
 *   `If-None-Match: *`, `DELETE` with `If-Match`.
 * - **Listing** by key prefix, with sizes and modification times (S3 `ListObjectsV2`).
 * - **Scratch**: a local folder for what a write stages before it becomes an object (uploads,
 *   containers being packed). It holds nothing a reader depends on.
 *
 * Keys are `/`-separated segments of letters, digits and `._-`, never `.` or `..` and never
 * empty ({@link checkKey}), so no key can address anything outside the store.
 * @module
 */
import type { RandomAccessReader } from "../io/random_access.ts";
import { StoreError } from "./errors.ts";

/** An object opened for ranged reads. */
export interface StoredObject extends RandomAccessReader {
  /** Its key. */
  readonly key: string;
}

/** What a listing reports of one object. */
export interface ObjectInfo {
  /** Its key. */
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
  /** When it was written, ms since the epoch. */
  readonly modifiedMs: number;
}

/**
 * The bytes of a new object: in memory, or a local file in the scratch folder, which the store
 * takes over (moves or uploads, then removes).
 */
export type ObjectSource = { readonly bytes: Uint8Array } | { readonly file: string };

/** A ref's current bytes and the entity tag a conditional write must name to replace them. */
export interface RefValue {
  /** The bytes. */
  readonly bytes: Uint8Array;
  /** Opaque entity tag of this version. */
  readonly etag: string;
}

/** The condition of a ref write: replace exactly this version, or create only. */
export type RefCondition = { readonly ifMatch: string } | { readonly ifNoneMatch: "*" };

/** Storage of immutable objects and compare-and-swap refs. */
export interface ObjectStore {
  /** Where it lives, as `--store` spells it (`file:/abs/dir`). */
  readonly url: string;
  /** A local folder for staging; emptied when the store opens. */
  readonly scratchDir: string;
  /**
   * Writes object `key` from `source` unless it exists; resolves true when it wrote it. The object
   * is durable when the promise resolves. A file source is consumed either way.
   */
  putObject(key: string, source: ObjectSource): Promise<boolean>;
  /** The whole of a small object, or null when there is none; refuses one over `maxBytes`. */
  getObject(key: string, maxBytes: number): Promise<Uint8Array | null>;
  /** Opens object `key` for ranged reads, or null when there is none. */
  openObject(key: string): Promise<StoredObject | null>;
  /** Size and time of object or ref `key`, or null. */
  statObject(key: string): Promise<ObjectInfo | null>;
  /** Removes object `key`; nothing when it is absent. Open readers keep reading. */
  deleteObject(key: string): Promise<void>;
  /** Objects and refs whose keys start with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Ref `key`, or null when there is none. */
  getRef(key: string): Promise<RefValue | null>;
  /**
   * Replaces ref `key` under `condition`; resolves to the new entity tag. Throws `ref_conflict`
   * when the condition does not hold (another writer got there first).
   */
  putRef(key: string, bytes: Uint8Array, condition: RefCondition): Promise<string>;
  /** Removes ref `key` if it is still at `etag`; throws `ref_conflict` otherwise. */
  deleteRef(key: string, etag: string): Promise<void>;
  /** Releases the store (its lock, for a folder). */
  close(): Promise<void>;
  /**
   * Removes what interrupted writes left inside the storage itself, started more than
   * `olderThanMs` ago (S3: incomplete multipart uploads, whose parts are kept and billed); resolves
   * to what it removed, or null when the storage cannot list them. A folder has no such leftovers
   * (its scratch is emptied at open).
   */
  sweepIncomplete?(olderThanMs: number, dryRun?: boolean): Promise<string[] | null>;
}

/** One key segment. */
const SEGMENT = /^[A-Za-z0-9._-]{1,255}$/;

/**
 * Checks that `key` is a well-formed object key; returns it.
 *
 * @example
 * ```ts
 * checkKey("repos/demo/tiny/refs.json"); // ok
 * checkKey("repos/../x"); // throws StoreError bad_name
 * ```
 */
export function checkKey(key: string): string {
  const parts = key.split("/");
  if (
    key.length > 1024 || parts.some((p) => !SEGMENT.test(p) || p === "." || p === "..")
  ) {
    throw new StoreError("bad_name", `not a valid object key: ${JSON.stringify(key)}`);
  }
  return key;
}

/** Key of the blob holding bytes of SHA-256 `sha256`. */
export function blobKey(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new StoreError("bad_name", `not a lower-case hex SHA-256: ${JSON.stringify(sha256)}`);
  }
  return `blobs/${sha256}`;
}
