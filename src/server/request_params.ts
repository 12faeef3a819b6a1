/**
 * Reading request parameters exactly: names that capture the rest of a path (tensor names with
 * `/`, `:` or Unicode, layer keys, file names) are decoded once from the raw path, so `a/b` and
 * `a%2Fb` both name the tensor `a/b`, and `%25` stays a literal `%`.
 * @module
 */
import { writeAllowed } from "../http/conditional.ts";
import { HttpError } from "../http/http_error.ts";
import type { Expectation } from "../store/model_store.ts";
import type { ReceiveLimits } from "../store/upload.ts";
import type { AppContext } from "./context.ts";

/**
 * The decoded path after the first `marker` segment following `skip` leading segments, e.g. the
 * tensor name of `/v1/models/org/name/tensors/<name>` with `skip = 5`.
 *
 * @example
 * ```ts
 * restOfPath("http://h/v1/models/o/n/tensors/a%2Fb/c", 5); // "a/b/c"
 * ```
 */
export function restOfPath(url: string, skip: number): string {
  const path = new URL(url).pathname;
  const segments = path.split("/").slice(1 + skip);
  const raw = segments.join("/");
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, "bad_path", `path has malformed percent-encoding: "${raw}"`);
  }
}

/** The `org` and `name` route parameters and the `revision` query parameter. */
export function modelParams(c: AppContext): { org: string; name: string; revision: string | null } {
  return {
    org: c.req.param("org") ?? "",
    name: c.req.param("name") ?? "",
    revision: c.req.query("revision") ?? null,
  };
}

/** The limits of an upload body: `maxBytes`, the announced `Content-Length` and `idleTimeoutMs`. */
export function uploadLimits(
  c: AppContext,
  maxBytes: number,
  idleTimeoutMs: number,
): ReceiveLimits {
  const length = c.req.header("Content-Length");
  return { maxBytes, contentLength: length === undefined ? null : Number(length), idleTimeoutMs };
}

/**
 * The request's `If-Match` / `If-None-Match` as a store expectation, or undefined without them.
 * The entity tag of a revision is its `model.safetensors` ETag, the file's SHA-256 (the `sha256`
 * a publish returns); a sidecar's is its own SHA-256.
 */
export function writeExpectation(c: AppContext): Expectation | undefined {
  const ifMatch = c.req.header("If-Match") ?? null;
  const ifNoneMatch = c.req.header("If-None-Match") ?? null;
  if (ifMatch === null && ifNoneMatch === null) return undefined;
  return (sha256) => writeAllowed(ifMatch, ifNoneMatch, sha256 === null ? null : `"${sha256}"`);
}
