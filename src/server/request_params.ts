/**
 * Reading what a write request carries besides its route parameters: the limits of its body and
 * its preconditions.
 * @module
 */
import { writeAllowed } from "../http/conditional.ts";
import type { ReceiveLimits } from "../store/upload.ts";
import type { FileExpectation } from "../store/publish.ts";
import type { AppContext } from "./context.ts";

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
 * The request's `If-Match` / `If-None-Match` as an expectation on file `path`, or undefined
 * without them. A file's entity tag is the `ETag` it is served with: the SHA-256 of an LFS file
 * (every safetensors file), the git blob id of any other.
 */
export function writeExpectation(c: AppContext, path: string): FileExpectation | undefined {
  const ifMatch = c.req.header("If-Match") ?? null;
  const ifNoneMatch = c.req.header("If-None-Match") ?? null;
  if (ifMatch === null && ifNoneMatch === null) return undefined;
  return {
    path,
    allows: (etag) => writeAllowed(ifMatch, ifNoneMatch, etag === null ? null : `"${etag}"`),
  };
}
