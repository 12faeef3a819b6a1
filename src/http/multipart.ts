/**
 * `multipart/byteranges` bodies (RFC 9110 §14.6), laid out up front so the total length is known
 * before the first byte is sent.
 * @module
 */
import { type ByteRange, contentRange } from "./range.ts";

/** A multipart/byteranges layout: the part headers, the closing delimiter and the total length. */
export interface MultipartLayout {
  /** The boundary, without leading dashes. */
  readonly boundary: string;
  /** `Content-Type` of the whole response. */
  readonly contentType: string;
  /** Delimiter and headers preceding each range's bytes. */
  readonly heads: readonly Uint8Array[];
  /** Bytes following the last part. */
  readonly tail: Uint8Array;
  /** Total body length. */
  readonly length: number;
}

const enc = new TextEncoder();

/**
 * Lays out a multipart/byteranges body for `ranges` of a `size`-byte representation of `type`.
 *
 * @example
 * ```ts
 * const m = multipartLayout([{ start: 0, end: 2 }, { start: 8, end: 10 }], 10, "text/plain");
 * m.contentType; // "multipart/byteranges; boundary=tessera-…"
 * ```
 */
export function multipartLayout(
  ranges: readonly ByteRange[],
  size: number,
  type: string,
  boundary = `tessera-${crypto.randomUUID().replaceAll("-", "")}`,
): MultipartLayout {
  const heads = ranges.map((r, i) =>
    enc.encode(
      `${i === 0 ? "" : "\r\n"}--${boundary}\r\nContent-Type: ${type}\r\n` +
        `Content-Range: ${contentRange(r, size)}\r\n\r\n`,
    )
  );
  const tail = enc.encode(`\r\n--${boundary}--\r\n`);
  const length = heads.reduce((n, h) => n + h.length, 0) + tail.length +
    ranges.reduce((n, r) => n + r.end - r.start, 0);
  return {
    boundary,
    contentType: `multipart/byteranges; boundary=${boundary}`,
    heads,
    tail,
    length,
  };
}

/** Streams the multipart body: each head, then that range's bytes from `read`, then the tail. */
export async function* multipartBody(
  layout: MultipartLayout,
  ranges: readonly ByteRange[],
  read: (r: ByteRange) => AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < ranges.length; i++) {
    yield layout.heads[i];
    yield* read(ranges[i]);
  }
  yield layout.tail;
}
