/**
 * The error type of the Tessera client, for what goes wrong between it and the server. Bytes that
 * fail their checksums or digests are a `ContainerError` (`chunk_corrupt`, `digest_mismatch`, …),
 * wherever they were decoded, as in every other reader. Browser-safe.
 * @module
 */

/** Every way loading a model over HTTP can fail, other than an abort. */
export type ClientErrorKind =
  /** The URL does not name a model (`http://host/v1/models/org/name` or `http://host/org/name`). */
  | "bad_url"
  /** The server answered with a status the request cannot use (see `status`). */
  | "http"
  /** The server answered 2xx, but the response is malformed: wrong length, range or JSON shape. */
  | "bad_response"
  /**
   * The manifest and the container disagree about a tensor or the file, or the bytes on the server
   * changed while they were being read.
   */
  | "manifest_mismatch"
  /** The server stopped sending: no response headers, or no body bytes, within the stall limit. */
  | "stalled";

/**
 * A client failure; callers match on `kind`, never on the message.
 *
 * @example
 * ```ts
 * import { ClientError } from "./errors.ts";
 * const e = new ClientError("http", "GET /v1/models/a/b/manifest: 404 Not Found", { status: 404 });
 * console.assert(e.kind === "http" && e.status === 404);
 * ```
 */
export class ClientError extends Error {
  /** Which rule was broken. */
  readonly kind: ClientErrorKind;
  /** The HTTP status, for kind `http`. */
  readonly status?: number;

  /** Builds an error of `kind`; `cause` keeps an underlying error such as a CodecError. */
  constructor(
    kind: ClientErrorKind,
    message: string,
    options?: ErrorOptions & { status?: number },
  ) {
    super(message, options);
    this.name = "ClientError";
    this.kind = kind;
    if (options?.status !== undefined) this.status = options.status;
  }
}
