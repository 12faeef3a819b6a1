/**
 * A container on an HTTP server as a byte source for the one reader. Opening costs one round
 * trip: the first bytes (the head and usually the stored original header) and the last bytes
 * (the index) are fetched at once and kept; every other read is one Range request, sent with the
 * entity tag the first responses carried (`If-Match`), so a container replaced on the server is
 * never mixed with the one being read. Its hints make the assembler merge reads into spans of
 * several MiB, a few in flight.
 *
 * With `stream`, the first request asks for everything from byte 0 and its body is read on past
 * the opening bytes: reads that follow each other in the container (a load in layer order, a pull
 * in file order) are served from it as it arrives, so the first chunks stream in the same round
 * trip as the head, with no request, pacing or span boundary between them. A read behind the
 * stream, or far ahead of it, is a Range request; one far ahead stops the stream where it has got
 * to, and the bytes it received serve the reads that come back to them. Browser-safe.
 * @module
 */
import type { ByteSource, SourceHints } from "../container/source.ts";
import { checkRange } from "../container/source.ts";
import { ClientError } from "./errors.ts";
import { type LinkPacer, linkPacer, type PacedTransfer } from "./link_pacer.ts";
import { type Fetch, parseContentRange, readExact, request, shareableBytes } from "./http.ts";
import { type SequentialBody, sequentialBody } from "./sequential_body.ts";

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
  /**
   * Ask for everything from byte 0 on opening (`Range: bytes=0-`) and serve later reads that
   * follow each other from that one body; off by default (the opening asks for `prefixBytes`).
   */
  readonly stream?: boolean;
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
  // `send` sends one the pacer let go (`paced`, done here if the request fails).
  const send = async (
    range: string,
    paced: PacedTransfer,
    ifMatch: string | null,
    readSignal?: AbortSignal,
  ): Promise<{ res: Response; paced: PacedTransfer }> => {
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
  const get = async (
    range: string,
    bytes: number,
    ifMatch: string | null,
    readSignal?: AbortSignal,
  ): Promise<{ res: Response; paced: PacedTransfer }> =>
    send(range, await pacer.acquire(bytes, readSignal), ifMatch, readSignal);
  const prefix = options.prefixBytes ?? PREFIX_BYTES, tail = options.tailBytes ?? TAIL_BYTES;
  // Both go together: neither body is read before both have answered, so a prefix sent alone
  // would hold its place in the pacer while the suffix waited behind it for progress it never
  // made (a sharded model's opening hung so once the link looked slow for its round trip).
  const [pacedPrefix, pacedTail] = await pacer.acquireAll([prefix, tail], signal);
  // The tail (the index) is asked for first: on a link that queues, the response that starts
  // first goes first, and a streamed prefix sent first queued up to 1 MiB of chunks ahead of the
  // index (human-fp32.bf16, 100 Mbit/s: the index arrived 90 ms later than the prefix's first
  // bytes). The first fetch of a process also loads Deno's fetch code (8-20 ms), so the first
  // request sent leaves that much earlier.
  const tailSent = send(`bytes=-${tail}`, pacedTail, null, signal);
  const settled = await Promise.allSettled([
    send(options.stream ? "bytes=0-" : `bytes=0-${prefix - 1}`, pacedPrefix, null, signal),
    tailSent,
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
    const readAhead = (options.hints ?? HTTP_HINTS).spanBytes || 4 << 20;
    opened = await readOpening(
      url,
      responses,
      [prefix, tail],
      !!options.stream,
      readAhead,
      (k, n) => {
        answers[k].paced.progress(n);
        onBytes?.(n);
      },
    );
  } catch (e) {
    for (const res of responses) if (!res.bodyUsed) await res.body?.cancel().catch(() => {});
    throw e;
  } finally {
    for (const a of answers) a.paced.done();
  }
  const { size, etag, cached } = opened;
  // The opening body read on: up to the cached tail, which holds everything after it.
  let stream = opened.rest;
  if (stream) {
    stream.limit(cached.reduce((m, c) => c.start > 0 ? Math.min(m, c.start) : m, size));
    if (!stream.open) stream = undefined;
  }
  /**
   * Reads `target` at `offset` from the stream when it comes next there (after a gap the link
   * carries in about a round trip, skipped); otherwise undefined, and the read is a Range request.
   * A read far ahead stops the stream where it has got to, so that the link carries the far read
   * at once (bytes it keeps in flight are queued before the far read's, on a link that queues:
   * the bench's 100 Mbit/s link kept a 13-byte first layer 0.3 s behind a running stream), but
   * keeps the bytes it received for the reads that come back to them: a load whose first layer
   * lies deep in the container (human-fp32.bf16: its embeddings at 11.1 MB of 14.7) reads that
   * layer, then everything from the front, of which the stream holds up to its read-ahead.
   */
  const fromStream = (offset: number, target: Uint8Array, readSignal?: AbortSignal) => {
    if (!stream?.open || offset < stream.claimed || offset + target.length > stream.end) {
      return undefined;
    }
    const { rtt, bandwidth } = pacer.estimates();
    const hints = options.hints ?? HTTP_HINTS;
    if (offset - stream.claimed > Math.max(hints.gapBytes, rtt * bandwidth)) {
      // Reads already claimed are still served, and so are later ones of the bytes received.
      stream.limit(Math.max(stream.claimed, stream.received));
      return undefined;
    }
    const s = stream;
    const aborted = () => s.cancel();
    readSignal?.addEventListener("abort", aborted, { once: true });
    return s.read(offset, target, onBytes).catch((e) => {
      readSignal?.throwIfAborted();
      // A stream that failed (a cut connection, say) leaves its reads to Range requests.
      if (stream === s) stream = undefined;
      if (closed) throw e;
      return fetchInto(offset, target, readSignal).then(() => {});
    }).finally(() => readSignal?.removeEventListener("abort", aborted));
  };
  /**
   * Fills `target` with the bytes at `offset`, piece by piece: from the cached opening bytes, from
   * the stream where the read comes next in it, else by a Range request. The pieces are claimed
   * at once, in order, so that concurrent reads take the stream in the order they were made.
   */
  const read = async (offset: number, target: Uint8Array, readSignal?: AbortSignal) => {
    const end = offset + target.length, waits: Promise<unknown>[] = [];
    const part = (a: number, b: number) => target.subarray(a - offset, b - offset);
    for (let at = offset; at < end;) {
      const c = cached.find((c) => at >= c.start && at < c.start + c.bytes.length);
      if (c) {
        const b = Math.min(end, c.start + c.bytes.length);
        part(at, b).set(c.bytes.subarray(at - c.start, b - c.start));
        at = b;
        continue;
      }
      let b = end;
      for (const c of cached) if (c.start > at && c.start < b) b = c.start;
      const streamed = stream?.open && at < stream.end
        ? fromStream(at, part(at, Math.min(b, stream.end)), readSignal)
        : undefined;
      if (streamed) {
        waits.push(streamed);
        at = Math.min(b, stream!.end);
        continue;
      }
      waits.push(fetchInto(at, part(at, b), readSignal));
      at = b;
    }
    await Promise.all(waits);
  };
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
      const target = shareableBytes(length);
      await read(offset, target, readSignal);
      return target;
    },
    async readInto(offset, target, readSignal) {
      checkRange(offset, target.length, size, url);
      await read(offset, target, readSignal);
    },
    close() {
      closed = true;
      stream?.cancel();
      stream = undefined;
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
  /** The rest of a streamed first body, its opening bytes taken. */
  readonly rest?: SequentialBody;
}

/**
 * Reads the responses to the prefix and suffix requests (`asked` bytes each), checking that they
 * are the ranges asked for, of one size and one entity tag. A 200 (Range ignored) is the whole.
 * With `stream`, the first response holds everything from byte 0: its first `asked[0]` bytes are
 * read, and the rest of its body is left for later reads.
 */
async function readOpening(
  url: string,
  responses: readonly Response[],
  asked: readonly [number, number],
  stream: boolean,
  readAhead: number,
  onBytes?: (response: number, n: number) => void,
): Promise<Opened> {
  const cached: Cached[] = [];
  let size = -1, etag: string | null = null;
  let rest: Opened["rest"];
  try {
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
      // The prefix must start at 0, the suffix end at the last byte, each as long as asked or all
      // (a streamed prefix: everything).
      const length = range ? range.last - range.first + 1 : 0;
      const whole = stream && k === 0;
      if (
        !range || (k === 0 ? range.first !== 0 : range.last !== range.total - 1) ||
        length !== (whole ? range.total : Math.min(asked[k], range.total))
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
      if (whole && length > asked[0] && res.body) {
        const bytes = new Uint8Array(asked[0]);
        rest = sequentialBody(res.body, 0, length, { readAhead, what: `GET ${url}` });
        await rest.read(0, bytes, counted);
        cached.push({ start: 0, bytes });
        continue;
      }
      cached.push({
        start: range.first,
        bytes: await readExact(res, length, `GET ${url}`, counted),
      });
    }
  } catch (e) {
    rest?.cancel();
    throw e;
  }
  return { size, etag, cached, rest };
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
