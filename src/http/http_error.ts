/**
 * The error a handler throws to answer with a given status and a JSON `{error, message}` body.
 * @module
 */

/** An error that maps directly onto an HTTP response. */
export class HttpError extends Error {
  /** HTTP status code. */
  readonly status: number;
  /** Machine-readable kind, sent as `error` in the JSON body. */
  readonly kind: string;
  /** Extra response headers, such as `Allow` or `WWW-Authenticate`. */
  readonly headers: Readonly<Record<string, string>>;

  /**
   * Builds an error answered with `status`.
   *
   * @example
   * ```ts
   * throw new HttpError(400, "bad_query", "rows must look like a:b; received \"x\"");
   * ```
   */
  constructor(
    status: number,
    kind: string,
    message: string,
    headers: Record<string, string> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
    this.kind = kind;
    this.headers = headers;
  }
}
