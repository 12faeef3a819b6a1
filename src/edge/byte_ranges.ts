/**
 * Reads the answer to a multi-range request (`Range: bytes=0-65535,-262144`): a `206` with one
 * range (the server merged them), `multipart/byteranges` with one part per range (RFC 9110
 * §14.6), or a `200` with the whole body. Browser-safe, pure.
 * @module
 */

/** One range of the answer. */
export interface RangePart {
  /** First byte. */
  readonly start: number;
  /** The bytes. */
  readonly bytes: Uint8Array;
}

/** The ranges an answer holds and the size of the whole representation. */
export interface RangeAnswer {
  /** Total size, from `Content-Range` (or the body, for a 200). */
  readonly size: number;
  /** The parts, in the order sent. */
  readonly parts: readonly RangePart[];
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/i;

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  outer: for (
    let i = hay.indexOf(first, from);
    i >= 0 && i <= hay.length - needle.length;
    i = hay.indexOf(first, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Parses the body `body` of a response with `status`, `Content-Type` and `Content-Range`; throws
 * on anything malformed.
 *
 * @example
 * ```ts
 * const a = parseRangeAnswer(206, "application/octet-stream", "bytes 0-1/10", new Uint8Array(2));
 * a.size; // 10
 * ```
 */
export function parseRangeAnswer(
  status: number,
  contentType: string | null,
  contentRange: string | null,
  body: Uint8Array,
): RangeAnswer {
  if (status === 200) return { size: body.length, parts: [{ start: 0, bytes: body }] };
  if (status !== 206) throw new Error(`expected 206, received ${status}`);
  const boundary = /^multipart\/byteranges;\s*boundary="?([^";]+)"?/i.exec(contentType ?? "");
  if (!boundary) {
    const m = CONTENT_RANGE.exec(contentRange ?? "");
    if (!m) throw new Error(`206 without a Content-Range: ${contentRange}`);
    const start = Number(m[1]), end = Number(m[2]) + 1;
    if (end - start !== body.length) {
      throw new Error(`Content-Range ${contentRange}, ${body.length} bytes`);
    }
    return { size: Number(m[3]), parts: [{ start, bytes: body }] };
  }
  const enc = new TextEncoder(), dec = new TextDecoder();
  const delim = enc.encode(`--${boundary[1]}`);
  const crlf2 = enc.encode("\r\n\r\n");
  const parts: RangePart[] = [];
  let size = -1;
  let at = indexOf(body, delim, 0);
  if (at < 0) throw new Error("multipart body without its boundary");
  for (;;) {
    at += delim.length;
    if (body[at] === 0x2d && body[at + 1] === 0x2d) break; // the close delimiter
    const headEnd = indexOf(body, crlf2, at);
    if (headEnd < 0) throw new Error("multipart part without a header end");
    const head = dec.decode(body.subarray(at, headEnd));
    const cr = /content-range:\s*([^\r\n]+)/i.exec(head);
    const m = CONTENT_RANGE.exec(cr?.[1].trim() ?? "");
    if (!m) throw new Error(`multipart part without a Content-Range: ${head}`);
    const start = Number(m[1]), end = Number(m[2]) + 1;
    if (size >= 0 && Number(m[3]) !== size) throw new Error("parts disagree on the size");
    size = Number(m[3]);
    const data = headEnd + 4;
    if (data + (end - start) > body.length) throw new Error("multipart part cut short");
    parts.push({ start, bytes: body.subarray(data, data + (end - start)) });
    at = indexOf(body, delim, data + (end - start));
    if (at < 0) throw new Error("multipart body without its close delimiter");
  }
  return { size, parts };
}
