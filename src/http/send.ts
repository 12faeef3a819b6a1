/**
 * Answers a GET or HEAD for a {@link Representation}: the preconditions in the order of RFC 9110
 * §13.2.2 (`If-Match` and `If-Unmodified-Since` 412, `If-None-Match` and `If-Modified-Since` 304),
 * `Range` with `If-Range` (206, multipart/byteranges, 416), `Repr-Digest` and, on request,
 * `Content-Digest`.
 *
 * Verified before the status line: a body of at most {@link MAX_VERIFIED_BYTES} (every tile and
 * small tensor, a range of a few blocks, a multipart body of small parts) is produced whole before
 * the response starts, for GET and HEAD alike, so a read that fails (a corrupt chunk) becomes an
 * error response naming it (the server's 500 `chunk_corrupt`) rather than a 200 with a truncated
 * body. A larger body is streamed as it is produced: a failure then stops it at the last byte
 * verified before the failing read, and the connection is closed short of `Content-Length`, so a
 * client sees a short body, never a wrong byte.
 *
 * Content-Digest policy: for a whole 200 response whose SHA-256 the index records, the digest is
 * the recorded one and nothing is buffered. Otherwise the body is produced in memory first and
 * hashed, but only when it is at most {@link MAX_DIGEST_BYTES} long; larger bodies are streamed
 * without `Content-Digest` (a streamed body cannot carry a header computed over itself).
 * @module
 */
import { iterableBody } from "./body_stream.ts";
import { evaluatePreconditions, ifRange, parseHttpDate, preconditionsOf } from "./conditional.ts";
import { digestFromHex, digestOf, wantedDigest } from "./digest.ts";
import { multipartBody, multipartLayout } from "./multipart.ts";
import { type ByteRange, contentRange, MAX_RANGES, parseRange } from "./range.ts";
import { rechunk } from "./rechunk.ts";
import { sharedBodyResponse } from "./shared_body.ts";
import type { Representation } from "./representation.ts";

/** Largest body buffered to compute a `Content-Digest` (or a missing `Repr-Digest`). */
export const MAX_DIGEST_BYTES = 16 << 20;

/**
 * Largest body produced whole (and so verified) before the status line is sent: 1 MiB covers every
 * tile and small tensor a client asks for, and bounds the memory of a request that waits.
 */
export const MAX_VERIFIED_BYTES = 1 << 20;

/** Options of {@link sendRepresentation}. */
export interface SendOptions {
  /** Longest stall between two body chunks before the response is cut. */
  readonly idleTimeoutMs?: number;
  /** Called when the response gets a streamed body (rather than none or a buffered one). */
  readonly onStream?: () => void;
  /** Told the length of every streamed body chunk sent. */
  readonly onChunk?: (bytes: number) => void;
  /** Told how a streamed body ended; not called when the response has no streamed body. */
  readonly onEnd?: (how: "done" | "error" | "cancel", error?: unknown) => void;
  /** Most ranges served; more and the whole representation is sent. */
  readonly maxRanges?: number;
  /** Largest body buffered to compute digests. */
  readonly maxDigestBytes?: number;
  /** Largest body produced whole before the response starts ({@link MAX_VERIFIED_BYTES}). */
  readonly maxVerifiedBytes?: number;
  /**
   * Further headers for every response (a request id, CORS), set when the response is made:
   * headers set on a response afterwards make the runtime build its headers a second time.
   */
  readonly headers?: readonly (readonly [string, string])[];
  /** Told the length of a body sent whole rather than streamed (0 for none). */
  readonly onWhole?: (bytes: number) => void;
}

const JSON_TYPE = "application/json; charset=utf-8";

/**
 * The response to `req` (GET or HEAD) for `rep`. Takes ownership of `rep`: it is released once the
 * response body is done with it.
 *
 * @example
 * ```ts
 * const rep = bytesRepresentation(new Uint8Array(10), "application/octet-stream", '"x"');
 * const req = new Request("http://h/", { headers: { Range: "bytes=-2" } });
 * const res = await sendRepresentation(req, rep);
 * res.status; // 206
 * ```
 */
export async function sendRepresentation(
  req: Request,
  rep: Representation,
  options: SendOptions = {},
): Promise<Response> {
  let released = false, handedOff = false;
  const release = () => {
    if (!released) {
      released = true;
      rep.release?.();
    }
  };
  try {
    // A plain record until the response is made: the Headers class validates every call.
    const headers: Record<string, string> = { ...rep.headers };
    for (const [name, value] of options.headers ?? []) headers[name] = value;
    headers["ETag"] = rep.etag;
    headers["Accept-Ranges"] = "bytes";
    if (rep.sha256) headers["Repr-Digest"] = digestFromHex(rep.sha256);
    const modified = rep.headers?.["Last-Modified"];
    const validators = {
      etag: rep.etag,
      lastModified: modified === undefined ? undefined : lastModifiedOf(modified),
    };
    const verdict = evaluatePreconditions(req.method, preconditionsOf(req.headers), validators);
    if (verdict === "not_modified") {
      options.onWhole?.(0);
      return new Response(null, { status: 304, headers });
    }
    if (verdict === "failed") {
      return jsonError(req, 412, headers, options, {
        error: "precondition_failed",
        message: `the current representation's ETag is ${rep.etag}; If-Match or ` +
          "If-Unmodified-Since does not hold",
      });
    }
    const range = ifRange(req.headers.get("If-Range"), validators)
      ? parseRange(req.headers.get("Range"), rep.size, options.maxRanges ?? MAX_RANGES)
      : { kind: "full" as const };
    if (range.kind === "unsatisfiable") {
      headers["Content-Range"] = `bytes */${rep.size}`;
      return jsonError(req, 416, headers, options, {
        error: "range_not_satisfiable",
        message: `no requested range overlaps the ${rep.size}-byte representation`,
      });
    }

    let status: number, length: number;
    let produce: (signal: AbortSignal) => AsyncIterable<Uint8Array>;
    const read = (r: ByteRange, signal: AbortSignal) => rep.read(r.start, r.end, signal);
    // The one span of a whole or single-range body, which a native body can send.
    let span: ByteRange | undefined;
    if (range.kind === "full") {
      status = 200;
      length = rep.size;
      headers["Content-Type"] = rep.contentType;
      span = { start: 0, end: rep.size };
      produce = (signal) => read({ start: 0, end: rep.size }, signal);
    } else if (range.ranges.length === 1) {
      const r = range.ranges[0];
      status = 206;
      length = r.end - r.start;
      headers["Content-Type"] = rep.contentType;
      headers["Content-Range"] = contentRange(r, rep.size);
      span = r;
      produce = (signal) => read(r, signal);
    } else {
      const layout = multipartLayout(range.ranges, rep.size, rep.contentType);
      status = 206;
      length = layout.length;
      headers["Content-Type"] = layout.contentType;
      produce = (signal) => multipartBody(layout, range.ranges, (r) => read(r, signal));
    }
    headers["Content-Length"] = String(length);

    const wantContent = wantedDigest(req.headers.get("Want-Content-Digest"));
    const wantRepr = wantedDigest(req.headers.get("Want-Repr-Digest"));
    const contentKnown = status === 200 && rep.sha256 !== undefined && wantContent === "sha-256";
    if (contentKnown) headers["Content-Digest"] = headers["Repr-Digest"];
    const needContent = wantContent !== null && !contentKnown;
    const needRepr = wantRepr !== null && !rep.sha256 && status === 200;
    const digest = (needContent || needRepr) &&
      length <= (options.maxDigestBytes ?? MAX_DIGEST_BYTES);
    if (digest || (length > 0 && length <= (options.maxVerifiedBytes ?? MAX_VERIFIED_BYTES))) {
      // Bytes held in memory for many responses are the whole body as they are.
      const shared = status === 200 ? rep.shared : undefined;
      // Produced whole first: a failing read rejects here, before any status is sent.
      const body = shared ?? await produceWhole(produce, length);
      if (needContent) headers["Content-Digest"] = digestOf(wantContent!, [body]);
      if (needRepr) headers["Repr-Digest"] = digestOf(wantRepr!, [body]);
      options.onWhole?.(req.method === "HEAD" ? 0 : length);
      if (shared && req.method !== "HEAD") return sharedBodyResponse(shared, headers);
      return new Response(req.method === "HEAD" ? null : body as Uint8Array<ArrayBuffer>, {
        status,
        headers,
      });
    }
    if (req.method === "HEAD" || length === 0) {
      options.onWhole?.(0);
      return new Response(req.method === "HEAD" ? null : new Uint8Array(0), { status, headers });
    }
    const onEnd = (how: "done" | "error" | "cancel", error?: unknown) => {
      release();
      options.onEnd?.(how, error);
    };
    const native = span && rep.nativeBody
      ? await rep.nativeBody(span.start, span.end, { onChunk: options.onChunk, onEnd })
      : null;
    if (native) {
      handedOff = true; // the body releases it now
      options.onStream?.();
      return new Response(native, { status, headers });
    }
    const abort = new AbortController();
    const body = iterableBody(rechunk(exactly(length, produce(abort.signal))), {
      abort,
      idleTimeoutMs: options.idleTimeoutMs,
      onChunk: options.onChunk,
      onEnd,
    });
    handedOff = true; // the body releases it now
    options.onStream?.();
    return new Response(body, { status, headers });
  } finally {
    if (!handedOff) release();
  }
}

/** A JSON `{error, message}` answer with `headers` (HEAD: none of the body). */
function jsonError(
  req: Request,
  status: number,
  headers: Record<string, string>,
  options: SendOptions,
  body: { error: string; message: string },
): Response {
  const text = new TextEncoder().encode(JSON.stringify(body));
  headers["Content-Type"] = JSON_TYPE;
  headers["Content-Length"] = String(text.length);
  options.onWhole?.(req.method === "HEAD" ? 0 : text.length);
  return new Response(req.method === "HEAD" ? null : text, { status, headers });
}

/** Passes `source` through, failing if it does not produce exactly `length` bytes. */
async function* exactly(
  length: number,
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const chunk of source) {
    n += chunk.length;
    if (n > length) throw new Error(`body overran its announced ${length} bytes`);
    yield chunk;
  }
  if (n !== length) throw new Error(`body produced ${n} bytes, ${length} were announced`);
}

/** Dates of `Last-Modified` parsed lately: a file's is the same on every response. */
const recentDates = new Map<string, number | undefined>();

function lastModifiedOf(field: string): number | undefined {
  if (recentDates.has(field)) return recentDates.get(field);
  const date = parseHttpDate(field) ?? undefined;
  if (recentDates.size >= 1024) recentDates.clear();
  recentDates.set(field, date);
  return date;
}

/** All of `produce`'s bytes in one buffer of `length`; rejects with the read's error. */
async function produceWhole(
  produce: (signal: AbortSignal) => AsyncIterable<Uint8Array>,
  length: number,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of produce(new AbortController().signal)) parts.push(p);
  return concat(parts, length);
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  // A Response refuses a view on shared memory, which sources that feed decode workers read into
  // (the object store's range reads): such a part is copied.
  if (
    parts.length === 1 && parts[0].length === length &&
    !(parts[0].buffer instanceof SharedArrayBuffer)
  ) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  if (at !== length) throw new Error(`body produced ${at} bytes, ${length} were announced`);
  return out;
}
