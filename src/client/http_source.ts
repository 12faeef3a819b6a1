/**
 * A container on an HTTP server as a byte source for the one reader. Opening costs one round
 * trip: the first bytes (the head and usually the stored original header) and the last bytes
 * (the index) are fetched at once and kept; every other read is one Range request, sent with the
 * entity tag the first responses carried (`If-Match`), so a container replaced on the server is
 * never mixed with the one being read. Its hints make the assembler merge reads into spans of
 * several MiB, a few in flight. Browser-safe.
 * @module
 */
import type { ByteSource, SourceHints } from "../container/source.ts";
import { checkRange } from "../container/source.ts";
import { ClientError } from "./errors.ts";
import { type LinkPacer, linkPacer, type PacedTransfer } from "./link_pacer.ts";
import { type Fetch, parseContentRange, readExact, request, shareableBytes } from "./http.ts";

/** Bytes read from the start of the container when it is opened: the head and original header. */
export const PREFIX_BYTES = 64 << 10;
/** Bytes read from its end: the index, for all but very large models. */
export const TAIL_BYTES = 256 << 10;

/**
 * How a remote container is read: spans of at least 4 MiB, so that a whole model costs
 * ⌈container bytes / 4 MiB⌉ requests after the open; reads closer than 256 KiB are merged (a gap
 * that small costs less than a request on any link worth compressing for); four spans in flight.
 */
export const HTTP_HINTS: SourceHints = { spanBytes: 4 << 20, gapBytes: 256 << 10, inflight: 4 };

/** Options of {@link openHttpSource}. */
export interface HttpSourceOptions {
  /** Aborts the opening requests. */
  readonly signal?: AbortSignal;
  /** Told the bytes of each response body as they arrive. */
  readonly onBytes?: (n: number) => void;
  /** Read grouping; {@link HTTP_HINTS} by default. */
  readonly hints?: SourceHints;
  /** Bytes fetched from the start on opening; {@link PREFIX_BYTES} by default. */
  readonly prefixBytes?: number;
  /** Bytes fetched from the end on opening; {@link TAIL_BYTES} by default. */
  readonly tailBytes?: number;
  /** Paces the requests; a fresh {@link linkPacer} by default. */
  readonly pacer?: LinkPacer;
}

/** A remote byte source, with what it saw of the server. */
export interface HttpSource extends ByteSource {
  /** The URL read. */
  readonly url: string;
  /** The strong entity tag of the bytes, when the server sent one. */
  readonly etag: string | null;
  /** Requests made so far. */
  readonly requests: number;
}

interface Cached {
  readonly start: number;
  readonly bytes: Uint8Array;
}

/**
 * Opens the bytes at `url`: two Range requests at once (the first {@link PREFIX_BYTES} and the
 * last {@link TAIL_BYTES}), which also give the size. A server that ignores Range gets one plain
 * GET instead, whose body is then the whole source.
 *
 * @example
 * ```ts ignore
 * const source = await openHttpSource(fetch, "http://127.0.0.1:8080/v1/models/demo/m/container");
 * const c = await openContainer(source, portableBackends);
 * ```
 */
export async function openHttpSource(
  fetchFn: Fetch,
  url: string,
  options: HttpSourceOptions = {},
): Promise<HttpSource> {
  const { signal, onBytes } = options;
  const pacer = options.pacer ?? linkPacer();
  let requests = 0;
  // Every request goes through the pacer, which learns the link's round trip and bandwidth.
  const get = async (
    range: string,
    bytes: number,
    ifMatch: string | null,
    readSignal?: AbortSignal,
  ): Promise<{ res: Response; paced: PacedTransfer }> => {
    const paced = await pacer.acquire(bytes, readSignal);
    requests++;
    const headers: Record<string, string> = { Range: range };
    if (ifMatch) headers["If-Match"] = ifMatch;
    try {
      const res = await request(fetchFn, url, { headers, signal: readSignal }, [412]);
      paced.headers();
      return { res, paced };
    } catch (e) {
      paced.done();
      throw e;
    }
  };
  const prefix = options.prefixBytes ?? PREFIX_BYTES, tail = options.tailBytes ?? TAIL_BYTES;
  const settled = await Promise.allSettled([
    get(`bytes=0-${prefix - 1}`, prefix, null, signal),
    get(`bytes=-${tail}`, tail, null, signal),
  ]);
  const failure = settled.find((r) => r.status === "rejected");
  if (failure) {
    // Whatever answered is not read: cancel it so no connection is left holding a body.
    for (const r of settled) {
      if (r.status === "fulfilled") await r.value.res.body?.cancel(), r.value.paced.done();
    }
    throw (failure as PromiseRejectedResult).reason;
  }
  const answers = settled.map((r) =>
    (r as PromiseFulfilledResult<{ res: Response; paced: PacedTransfer }>).value
  );
  const responses = answers.map((a) => a.res);
  let opened: Opened;
  try {
    // Counted by the pacer too: the opening's two bodies are its first bandwidth measurement.
    opened = await readOpening(url, responses, [prefix, tail], (k, n) => {
      answers[k].paced.progress(n);
      onBytes?.(n);
    });
  } catch (e) {
    for (const res of responses) if (!res.bodyUsed) await res.body?.cancel().catch(() => {});
    throw e;
  } finally {
    for (const a of answers) a.paced.done();
  }
  const { size, etag, cached } = opened;
  let closed = false;
  const fetchInto = async (offset: number, target: Uint8Array, readSignal?: AbortSignal) => {
    if (closed) throw new Error(`${url}: source is closed`);
    const { res, paced } = await get(
      `bytes=${offset}-${offset + target.length - 1}`,
      target.length,
      etag,
      readSignal ?? signal,
    );
    try {
      return await readRange({ url, size, etag }, res, offset, target, (n) => {
        paced.progress(n);
        onBytes?.(n);
      });
    } finally {
      paced.done();
    }
  };
  const source: HttpSource = {
    url,
    size,
    etag,
    get requests() {
      return requests;
    },
    hints: options.hints ?? HTTP_HINTS,
    async readAt(offset, length, readSignal) {
      checkRange(offset, length, size, url);
      for (const c of cached) {
        if (offset >= c.start && offset + length <= c.start + c.bytes.length) {
          return c.bytes.subarray(offset - c.start, offset - c.start + length);
        }
      }
      // Shared memory: the blocks decoded from this span on worker threads read it in place.
      return await fetchInto(offset, shareableBytes(length), readSignal);
    },
    async readInto(offset, target, readSignal) {
      checkRange(offset, target.length, size, url);
      for (const c of cached) {
        if (offset >= c.start && offset + target.length <= c.start + c.bytes.length) {
          target.set(c.bytes.subarray(offset - c.start, offset - c.start + target.length));
          return;
        }
      }
      await fetchInto(offset, target, readSignal);
    },
    close() {
      closed = true;
    },
  };
  return source;
}

/**
 * Checks the response to a read of bytes `[offset, offset + length)` of the source `s` describes
 * and reads its body: 206 with exactly that range, of the same file (a changed size or entity tag,
 * or 412 to our If-Match, means it changed on the server).
 */
async function readRange(
  s: { readonly url: string; readonly size: number; readonly etag: string | null },
  res: Response,
  offset: number,
  into: Uint8Array,
  onBytes: (n: number) => void,
): Promise<Uint8Array> {
  const length = into.length;
  if (res.status === 412) {
    await res.body?.cancel();
    throw changed(s.url);
  }
  const what = `GET ${s.url} bytes ${offset}-${offset + length - 1}`;
  const range = parseContentRange(res.headers.get("content-range"));
  // A server that ignores If-Match still shows a change by its size or its entity tag.
  const tag = strongTag(res.headers.get("etag"));
  if ((range && range.total !== s.size) || (s.etag && tag && tag !== s.etag)) {
    await res.body?.cancel();
    throw changed(s.url);
  }
  if (
    res.status !== 206 || !range || range.first !== offset || range.last !== offset + length - 1
  ) {
    await res.body?.cancel();
    throw new ClientError(
      "bad_response",
      `${what}: ${res.status} with Content-Range "${res.headers.get("content-range")}"`,
    );
  }
  return await readExact(res, length, what, onBytes, into);
}

/** What the two opening responses told: the size, the entity tag, and the bytes they held. */
interface Opened {
  readonly size: number;
  readonly etag: string | null;
  readonly cached: Cached[];
}

/**
 * Reads the responses to the prefix and suffix requests (`asked` bytes each), checking that they
 * are the ranges asked for, of one size and one entity tag. A 200 (Range ignored) is the whole.
 */
async function readOpening(
  url: string,
  responses: readonly Response[],
  asked: readonly [number, number],
  onBytes?: (response: number, n: number) => void,
): Promise<Opened> {
  const cached: Cached[] = [];
  let size = -1, etag: string | null = null;
  for (const [k, res] of responses.entries()) {
    const counted = (n: number) => onBytes?.(k, n);
    if (res.status === 412) throw changed(url);
    const tag = strongTag(res.headers.get("etag"));
    if (res.status === 200) {
      // No Range support: the body is everything, and every read is served from it.
      const declared = res.headers.get("content-length");
      const bytes = declared !== null && /^\d+$/.test(declared)
        ? await readExact(res, Number(declared), `GET ${url}`, counted)
        : new Uint8Array(await res.arrayBuffer());
      size = bytes.length, etag = tag;
      cached.push({ start: 0, bytes });
      continue;
    }
    if (res.status !== 206) {
      throw new ClientError("bad_response", `GET ${url}: expected 206, received ${res.status}`);
    }
    const range = parseContentRange(res.headers.get("content-range"));
    // The prefix must start at 0, the suffix end at the last byte, each as long as asked or all.
    const length = range ? range.last - range.first + 1 : 0;
    if (
      !range || (k === 0 ? range.first !== 0 : range.last !== range.total - 1) ||
      length !== Math.min(asked[k], range.total)
    ) {
      throw new ClientError(
        "bad_response",
        `GET ${url}: Content-Range is "${res.headers.get("content-range")}"`,
      );
    }
    if ((size >= 0 && range.total !== size) || (etag !== null && tag !== null && tag !== etag)) {
      throw changed(url);
    }
    size = range.total, etag = etag ?? tag;
    cached.push({ start: range.first, bytes: await readExact(res, length, `GET ${url}`, counted) });
  }
  return { size, etag, cached };
}

function strongTag(value: string | null): string | null {
  return value && !value.startsWith("W/") ? value : null;
}

function changed(url: string): ClientError {
  return new ClientError(
    "manifest_mismatch",
    `${url} changed on the server while it was being read; start again`,
  );
}
