/**
 * The few HTTP exchanges the client makes: a checked GET, a body read piece by piece or into a
 * buffer of known size, and a byte range. Browser-safe.
 * @module
 */
import { ClientError } from "./errors.ts";

/** A `fetch`-compatible function, so callers can inject proxies, auth or instrumentation. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Called with the byte count of each piece of a body as it arrives. */
export type OnBytes = (n: number) => void;

/**
 * Sends a request and returns the response when its status is 2xx (or one of `accept`); otherwise
 * throws a {@link ClientError} of kind `http` that quotes the server's error message.
 */
export async function request(
  fetchFn: Fetch,
  url: string,
  init: RequestInit = {},
  accept: readonly number[] = [],
): Promise<Response> {
  const res = await fetchFn(url, init);
  if (res.ok || accept.includes(res.status)) return res;
  let detail = "";
  try {
    const text = (await res.text()).slice(0, 500);
    try {
      const json = JSON.parse(text);
      detail = String(json.error?.message ?? json.error ?? json.message ?? text);
    } catch {
      detail = text;
    }
  } catch {
    // The body is only for the message.
  }
  throw new ClientError(
    "http",
    `${init.method ?? "GET"} ${url}: ${res.status} ${res.statusText}${detail ? `: ${detail}` : ""}`,
    { status: res.status },
  );
}

/**
 * A buffer of `length` bytes that worker threads can read without a copy: over a
 * `SharedArrayBuffer` where the platform has one (Deno, and browsers in cross-origin isolation),
 * else an ordinary one. A span of a remote container lands in one, and the blocks decoded from it
 * on worker threads share it instead of each taking a copy of its part.
 */
export function shareableBytes(length: number): Uint8Array {
  return typeof SharedArrayBuffer === "function"
    ? new Uint8Array(new SharedArrayBuffer(length))
    : new Uint8Array(length);
}

/**
 * Reads a body of exactly `length` bytes into one buffer (`into`, when given: it must be `length`
 * bytes); a longer or shorter body is a `bad_response`. `onBytes` sees each piece as it arrives.
 */
export async function readExact(
  res: Response,
  length: number,
  what: string,
  onBytes?: OnBytes,
  into?: Uint8Array,
): Promise<Uint8Array> {
  if (into && into.length !== length) {
    throw new RangeError(`into must be ${length} bytes: received ${into.length}`);
  }
  const out = into ?? new Uint8Array(length);
  let pos = 0;
  // The reader directly, not through an async generator: a 4 MiB span arrives in about 70 pieces,
  // and each generator step cost more than copying its piece.
  const reader = res.body?.getReader();
  try {
    for (;;) {
      const r = await reader?.read();
      if (!r || r.done) break;
      const value = r.value;
      if (pos + value.length > length) {
        throw new ClientError(
          "bad_response",
          `${what}: body is longer than the expected ${length} bytes`,
        );
      }
      out.set(value, pos);
      pos += value.length;
      onBytes?.(value.length);
    }
  } finally {
    reader?.releaseLock();
    if (pos !== length) await res.body?.cancel().catch(() => {});
  }
  if (pos !== length) {
    throw new ClientError("bad_response", `${what}: body has ${pos} bytes, expected ${length}`);
  }
  return out;
}

/**
 * Yields the pieces of `res`'s body as they arrive (nothing for a response without a body). The
 * body is cancelled when the loop ends early, so a throw from the consumer stops the download.
 * Browsers do not all make a `ReadableStream` iterable, hence the reader.
 */
export async function* bodyPieces(res: Response): AsyncGenerator<Uint8Array> {
  if (!res.body) return;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** A byte range read: the bytes and the total size the server reported. */
export interface RangeResult {
  /** Bytes `[start, end)`. */
  readonly bytes: Uint8Array;
  /** Size of the whole representation, from `Content-Range`. */
  readonly total: number;
}

/** A satisfied `Content-Range`: bytes `first` to `last` inclusive of a `total`-byte whole. */
export interface ContentRange {
  /** First byte sent. */
  readonly first: number;
  /** Last byte sent, inclusive. */
  readonly last: number;
  /** Size of the whole representation. */
  readonly total: number;
}

/** Parses a `Content-Range: bytes first-last/total` value; anything else gives `undefined`. */
export function parseContentRange(value: string | null): ContentRange | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value ?? "");
  return m ? { first: Number(m[1]), last: Number(m[2]), total: Number(m[3]) } : undefined;
}

/**
 * GETs bytes `[start, end)` of `url` with `Range`, and checks that the server answered 206 with
 * exactly that range.
 */
export async function fetchRange(
  fetchFn: Fetch,
  url: string,
  start: number,
  end: number,
  options: { signal?: AbortSignal; onBytes?: OnBytes } = {},
): Promise<RangeResult> {
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start < end)) {
    throw new RangeError(`range must satisfy 0 <= start < end: received ${start}-${end}`);
  }
  const res = await request(fetchFn, url, {
    headers: { Range: `bytes=${start}-${end - 1}` },
    signal: options.signal,
  });
  const what = `GET ${url} bytes ${start}-${end - 1}`;
  if (res.status !== 206) {
    await res.body?.cancel();
    throw new ClientError("bad_response", `${what}: expected 206, received ${res.status}`);
  }
  const range = parseContentRange(res.headers.get("content-range"));
  if (!range || range.first !== start || range.last !== end - 1) {
    await res.body?.cancel();
    throw new ClientError(
      "bad_response",
      `${what}: Content-Range is "${res.headers.get("content-range")}"`,
    );
  }
  return { bytes: await readExact(res, end - start, what, options.onBytes), total: range.total };
}
