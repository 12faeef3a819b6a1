/**
 * The error type of the model store: bad names, missing models, revisions and files, and
 * uploads it refuses.
 * @module
 */
import type { RevisionRef } from "./layout.ts";

/** Every way a store operation can be refused. */
export type StoreErrorKind =
  /** An org, name, revision or file name that breaks the naming rules (and so cannot be a path). */
  | "bad_name"
  /** No model of that id. */
  | "model_not_found"
  /** The model exists, but not at that revision. */
  | "revision_not_found"
  /** No such file in the revision. */
  | "file_not_found"
  /** An upload larger than the configured limit. */
  | "too_large"
  /** A sidecar upload that is not valid UTF-8 text or, for `.json`, not valid JSON. */
  | "invalid_sidecar"
  /** The uploaded body ended before the length it announced. */
  | "incomplete_upload"
  /** The caller's expectation of the current version (If-Match, If-None-Match) does not hold. */
  | "precondition_failed";

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
 * The `file_not_found` error for `file` of revision `ref`.
 *
 * @example
 * ```ts
 * throw fileNotFound(ref, "config.json"); // "demo/stories260k@main has no file config.json"
 * ```
 */
export function fileNotFound(ref: RevisionRef, file: string): StoreError {
  return new StoreError(
    "file_not_found",
    `${ref.org}/${ref.name}@${ref.revision} has no file ${file}`,
  );
}
