/**
 * What every Tessera download is: a representation of known length and strong entity tag whose
 * bytes can be produced from any offset. {@link sendRepresentation} turns one into a response.
 * @module
 */
import { sha256Hex } from "../hash/sha256.ts";
import type { BodyOptions } from "./body_stream.ts";

/** What a body tells as it is sent: each chunk's length, and how it ended. */
export type BodyHooks = Pick<BodyOptions, "onChunk" | "onEnd">;

/** A selected representation (RFC 9110 §3.2) that can be read from any byte range. */
export interface Representation {
  /** Length in bytes. */
  readonly size: number;
  /** `Content-Type`. */
  readonly contentType: string;
  /** Strong entity tag, quoted: a content hash, or derived from one. */
  readonly etag: string;
  /** Lower-case hex SHA-256 of the whole representation, when known without reading it. */
  readonly sha256?: string;
  /**
   * Further response headers (dtype, shape, linked sizes, …). A `Last-Modified` among them is the
   * date that `If-Modified-Since`, `If-Unmodified-Since` and `If-Range` are evaluated against.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Yields exactly bytes `[start, end)`, verified. Rejects rather than yield a wrong byte. Stops
   * early once `signal` is aborted.
   */
  read(start: number, end: number, signal: AbortSignal): AsyncIterable<Uint8Array>;
  /** Called once when the response no longer needs the representation. */
  release?(): void;
  /**
   * Bytes `[start, end)` as a body that the runtime sends without handing its chunks to
   * JavaScript (a socket that native threads fill), when the representation has one for that range
   * now; null: use `read`. `hooks` hear of the bytes as they are produced and, once, of how the
   * body ended, as for a body made from `read`; a failure ends the body short of the range.
   */
  nativeBody?(start: number, end: number, hooks: BodyHooks): Promise<ReadableStream | null>;
  /**
   * The whole representation, when it is held in memory for many responses and never changes
   * (a cached manifest): a whole 200 body then shares it instead of copying it (see
   * `sharedBodyResponse`).
   */
  readonly shared?: Uint8Array;
}

/**
 * A representation of bytes held in memory. With `shared`, the bytes are held for many responses
 * and never change, and whole responses share them rather than copy them.
 *
 * @example
 * ```ts
 * bytesRepresentation(new TextEncoder().encode("{}"), "application/json", '"e3b0"');
 * ```
 */
export function bytesRepresentation(
  bytes: Uint8Array,
  contentType: string,
  etag: string,
  extra: { sha256?: string; headers?: Record<string, string>; shared?: boolean } = {},
): Representation {
  return {
    size: bytes.length,
    contentType,
    etag,
    sha256: extra.sha256,
    headers: extra.headers,
    ...(extra.shared && { shared: bytes }),
    async *read(start, end) {
      yield bytes.subarray(start, end);
    },
  };
}

/**
 * A representation of bytes held in memory whose ETag and Repr-Digest are their SHA-256.
 *
 * @example
 * ```ts
 * hashedBytesRepresentation(new TextEncoder().encode("{}"), "application/json").etag;
 * // '"44136fa3…"'
 * ```
 */
export function hashedBytesRepresentation(
  bytes: Uint8Array,
  contentType: string,
  headers?: Record<string, string>,
): Representation {
  const sha256 = sha256Hex(bytes);
  return bytesRepresentation(bytes, contentType, `"${sha256}"`, { sha256, headers });
}
