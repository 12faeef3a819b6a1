/**
 * Maps any error a handler throws onto a JSON `{error, message}` response: 4xx for what the client
 * got wrong, 5xx only for server faults (which are logged).
 * @module
 */
import { ContainerError, type ContainerErrorKind } from "../container/errors.ts";
import { BodyTimeoutError } from "../http/body_stream.ts";
import { HttpError } from "../http/http_error.ts";
import { SafetensorsError } from "../safetensors/errors.ts";
import { StoreError, type StoreErrorKind } from "../store/errors.ts";

/** A response to send for an error. */
export interface ErrorAnswer {
  /** HTTP status. */
  readonly status: number;
  /** `error` field. */
  readonly kind: string;
  /** `message` field. */
  readonly message: string;
  /** Extra headers. */
  readonly headers: Record<string, string>;
  /** Whether this is a server fault worth logging. */
  readonly fault: boolean;
}

const STORE_STATUS: Record<StoreErrorKind, number> = {
  bad_name: 400,
  model_not_found: 404,
  revision_not_found: 404,
  file_not_found: 404,
  too_large: 413,
  invalid_file: 400,
  incomplete_upload: 400,
  digest_mismatch: 400,
  missing_upload: 409,
  precondition_failed: 412,
  // Retried by the store; reaching a client means a writer kept losing the race.
  ref_conflict: 409,
  path_conflict: 409,
  store_locked: 503,
  no_space: 507,
};

// What a client asked wrongly of a container; every other kind is a server fault.
const CONTAINER_STATUS: Partial<Record<ContainerErrorKind, number>> = {
  tensor_not_found: 404,
  variant_not_found: 404,
  bad_slice: 400,
  // The file exists, but this container holds only its variants.
  variant_only: 409,
};

// Hugging Face clients tell missing repos, revisions and files apart by this header.
const HF_ERROR_CODE: Record<string, string> = {
  model_not_found: "RepoNotFound",
  revision_not_found: "RevisionNotFound",
  file_not_found: "EntryNotFound",
  tensor_not_found: "EntryNotFound",
  layer_not_found: "EntryNotFound",
};

/**
 * The answer for `e`.
 *
 * @example
 * ```ts
 * errorAnswer(new StoreError("model_not_found", "no model a/b")).status; // 404
 * ```
 */
export function errorAnswer(e: unknown): ErrorAnswer {
  let status = 500, kind = "internal_error", message = "internal server error", fault = true;
  let headers: Record<string, string> = {};
  if (e instanceof HttpError) {
    ({ status, kind, message } = e);
    headers = { ...e.headers };
    fault = status >= 500;
  } else if (e instanceof StoreError) {
    ({ kind, message } = e);
    status = STORE_STATUS[e.kind];
    fault = status >= 500;
  } else if (e instanceof SafetensorsError) {
    ({ kind, message } = e);
    status = 400;
    fault = false;
  } else if (e instanceof ContainerError) {
    ({ kind, message } = e);
    status = CONTAINER_STATUS[e.kind] ?? 500;
    fault = status >= 500;
  } else if (e instanceof BodyTimeoutError) {
    ({ kind, message } = e);
    status = 503;
  }
  if (HF_ERROR_CODE[kind]) headers["X-Error-Code"] = HF_ERROR_CODE[kind];
  if (status === 404 || status === 400) {
    headers["X-Error-Message"] = message.replace(/[^\x20-\x7e]/g, "?");
  }
  return { status, kind, message, headers, fault };
}

/** The JSON response for `a`; `head` omits the body. */
export function errorResponse(a: ErrorAnswer, head = false): Response {
  const headers = new Headers(a.headers);
  headers.set("Content-Type", "application/json; charset=utf-8");
  const body = JSON.stringify({ error: a.kind, message: a.message });
  headers.set("Content-Length", String(new TextEncoder().encode(body).length));
  return new Response(head ? null : body, { status: a.status, headers });
}
