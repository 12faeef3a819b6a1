/**
 * Naming rules for model ids, revisions and sidecar files. Every name that reaches the file
 * system passes one of these checks first, so none can contain a path separator, a dot segment,
 * a NUL or a backslash.
 * @module
 */
import { StoreError } from "./errors.ts";

/** Org and model names: like Hugging Face's, a letter or digit, then letters, digits, `._-`. */
export const ID_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
/** Revision names (branches or tags): letters, digits and `._-`, but not `.` or `..`. */
export const REVISION = /^[A-Za-z0-9._-]{1,64}$/;
/** Sidecar files: plain text or JSON, flat in the revision folder. */
export const SIDECAR = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.(?:json|txt|md)$/;
/** The container's file name in a revision folder. */
export const CONTAINER_FILE = "model.tsr";
/** The virtual original served beside it. */
export const ORIGINAL_FILE = "model.safetensors";
/** The default revision. */
export const DEFAULT_REVISION = "main";
/** Orgs that would shadow the server's own routes. */
export const RESERVED_ORGS: ReadonlySet<string> = new Set(["api", "v1", "openapi.json"]);

/**
 * Checks an org or model name.
 *
 * @example
 * ```ts
 * checkIdPart("stories260k", "name"); // "stories260k"
 * checkIdPart("..", "name"); // throws StoreError bad_name
 * ```
 */
export function checkIdPart(value: string, what: "org" | "name"): string {
  if (!ID_PART.test(value) || value.endsWith(".")) {
    throw new StoreError(
      "bad_name",
      `${what} must be 1-96 letters, digits, '.', '_' or '-', starting with a letter or digit ` +
        `and not ending with '.'; received ${JSON.stringify(value)}`,
    );
  }
  if (what === "org" && RESERVED_ORGS.has(value.toLowerCase())) {
    throw new StoreError("bad_name", `org ${JSON.stringify(value)} is reserved by the server`);
  }
  return value;
}

/** Checks a revision name; `null` or empty means {@link DEFAULT_REVISION}. */
export function checkRevision(value: string | null | undefined): string {
  const v = value ?? DEFAULT_REVISION;
  if (v === "") return DEFAULT_REVISION;
  if (!REVISION.test(v) || v === "." || v === "..") {
    throw new StoreError(
      "bad_name",
      `revision must be 1-64 letters, digits, '.', '_' or '-' and not "." or ".."; ` +
        `received ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Checks a sidecar file name. */
export function checkSidecar(value: string): string {
  if (!SIDECAR.test(value)) {
    throw new StoreError(
      "bad_name",
      `sidecar files are flat .json, .txt or .md names of letters, digits, '.', '_' and '-'; ` +
        `received ${JSON.stringify(value)}`,
    );
  }
  return value;
}
