/**
 * Naming rules for model ids, branches and repo paths. Org and model names and branch names
 * become object keys, so they are letters, digits and `._-` only; repo paths never reach the file
 * system (files are stored by content), but are still held to a plain form that every client and
 * operating system can represent.
 * @module
 */
import { StoreError } from "./errors.ts";

/** Org and model names: like Hugging Face's, a letter or digit, then letters, digits, `._-`. */
export const ID_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
/** Branch names: letters, digits and `._-`, but not `.` or `..`, nor a 40-hex commit id. */
export const BRANCH = /^[A-Za-z0-9._-]{1,64}$/;
/** A commit id: 40 lower-case hex digits. */
export const COMMIT_ID = /^[0-9a-f]{40}$/;
/** The original file of a single-file model, as uploads without a path name it. */
export const ORIGINAL_FILE = "model.safetensors";
/** The default branch. */
export const DEFAULT_REVISION = "main";
/** Orgs that would shadow the server's own routes. */
export const RESERVED_ORGS: ReadonlySet<string> = new Set(["api", "v1", "openapi.json"]);
/** Longest repo path, in characters. */
export const MAX_PATH = 1024;

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

/**
 * Checks a branch name; `null` or empty means {@link DEFAULT_REVISION}.
 *
 * @example
 * ```ts
 * checkBranch("v1.0-rc_2"); // "v1.0-rc_2"
 * checkBranch("a/b"); // throws StoreError bad_name
 * ```
 */
export function checkBranch(value: string | null | undefined): string {
  const v = value ?? DEFAULT_REVISION;
  if (v === "") return DEFAULT_REVISION;
  if (!BRANCH.test(v) || v === "." || v === ".." || COMMIT_ID.test(v)) {
    throw new StoreError(
      "bad_name",
      `a branch is 1-64 letters, digits, '.', '_' or '-', not "." or ".." and not a 40-hex ` +
        `commit id; received ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/**
 * Checks a revision as a reader names it: a branch, `refs/heads/<branch>`, `HEAD` or a commit id.
 * Returns the branch (or commit id) it names.
 */
export function checkRevision(value: string | null | undefined): string {
  const v = value ?? DEFAULT_REVISION;
  if (v === "") return DEFAULT_REVISION;
  if (COMMIT_ID.test(v)) return v;
  if (v.startsWith("refs/heads/")) return checkBranch(v.slice("refs/heads/".length));
  return checkBranch(v);
}

/**
 * Checks a path in a repo: `/`-separated segments, none empty, `.`, `..` or `.git`, no control
 * characters or backslashes, at most {@link MAX_PATH} characters.
 *
 * @example
 * ```ts
 * checkRepoPath("text_encoder/model.safetensors"); // ok
 * checkRepoPath("../etc/passwd"); // throws StoreError bad_name
 * ```
 */
export function checkRepoPath(value: string): string {
  const segments = value.split("/");
  const bad = value.length === 0 || value.length > MAX_PATH ||
    // deno-lint-ignore no-control-regex
    /[\x00-\x1f\x7f\\]/.test(value) ||
    segments.some((s) => s === "" || s === "." || s === ".." || s === ".git" || s.length > 255);
  if (bad) {
    throw new StoreError(
      "bad_name",
      `a repo path is /-separated names (none empty, ".", ".." or ".git"), without control ` +
        `characters or backslashes, at most ${MAX_PATH} characters; received ` +
        JSON.stringify(value),
    );
  }
  return value;
}
