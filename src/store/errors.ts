/**
 * The error type of the model store: bad names, missing models, revisions and files, uploads it
 * refuses, and conflicts with other writers or with what is on disk.
 * @module
 */

/** Every way a store operation can be refused. */
export type StoreErrorKind =
  /** An org, name, revision or path that breaks the naming rules. */
  | "bad_name"
  /** No model of that id. */
  | "model_not_found"
  /** The model exists, but not at that revision (branch or commit). */
  | "revision_not_found"
  /** No such file in the revision. */
  | "file_not_found"
  /** An upload larger than the configured limit. */
  | "too_large"
  /** A repo file the store refuses: a `.json` file that is not JSON, say. */
  | "invalid_file"
  /** The uploaded body ended before the length it announced, or stalled. */
  | "incomplete_upload"
  /** The uploaded bytes do not have the SHA-256 the upload URL names. */
  | "digest_mismatch"
  /** A commit names a file by a SHA-256 the store does not hold (upload it first). */
  | "missing_upload"
  /** The caller's expectation (If-Match, If-None-Match, parentCommit) does not hold. */
  | "precondition_failed"
  /** A ref changed between its read and the conditional write that would replace it. */
  | "ref_conflict"
  /** The storage holds a file where a folder is expected (or the reverse): nothing was changed. */
  | "path_conflict"
  /** Another process holds the store (a second server on the same models folder). */
  | "store_locked"
  /** The storage is out of space (ENOSPC, or a file-size limit). */
  | "no_space";

/** A refused store operation; callers match on `kind`. */
export class StoreError extends Error {
  /** Which rule applies. */
  readonly kind: StoreErrorKind;

  /** Builds an error of `kind`. */
  constructor(kind: StoreErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreError";
    this.kind = kind;
  }
}

/**
 * The `file_not_found` error for `path` of `id@revision`.
 *
 * @example
 * ```ts
 * throw fileNotFound("demo/stories260k", "main", "config.json");
 * // "demo/stories260k@main has no file config.json"
 * ```
 */
export function fileNotFound(id: string, revision: string, path: string): StoreError {
  return new StoreError("file_not_found", `${id}@${revision} has no file ${path}`);
}
