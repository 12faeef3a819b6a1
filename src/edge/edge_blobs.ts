/**
 * An edge's content objects (`blobs/<sha256>`) read through its tiers: the disk tier of verified
 * segments (`span_cache.ts`), then the origin's object route.
 *
 * **Opening** a blob the edge has never seen is one request to the origin for its first 64 KiB
 * and its last 256 KiB at once (`Range: bytes=0-65535,-262144`). A container (it starts with the
 * magic and its index matches the SHA-256 in its head) is then read segment by segment
 * (`container_map.ts`); anything else is a raw file, fetched whole, checked against the SHA-256
 * its key names, and kept as one file. What the open learnt (size, head, stored index, stored
 * original header) is kept beside the segments, so a restarted edge opens the container with no
 * origin at all. The open checks the original header as it checks the index (`openContainer`):
 * its bytes are usually in the first request's prefix (the header follows the head), or else one
 * more range request; header bytes that fail their SHA-256 are fetched once more, and are never
 * kept.
 *
 * **Reading** a range of a container takes the segments that cover it: from disk (verified again
 * as they are read, a cheap XXH32, so a damaged cache file is refetched rather than served), from
 * a fetch already under way (single-flight: concurrent misses of a segment share one origin
 * request), or else from the origin, consecutive missing segments in one request of at most 8
 * MiB. Every fetched segment is verified before it is cached or used; one that fails is fetched
 * once more, and a second failure is a 502 naming the tensor and chunk. A segment that verifies
 * is cached even when others of its request did not. The reader's own reads (`readInto`, into its
 * pooled buffers) take each segment's part from disk straight into the buffer and verify the
 * regions that part holds there, so a warm read allocates nothing and reads each byte once.
 *
 * **Prefetch.** Reading a chunk of layer k starts fetching layer k+1 (in load order), and opening
 * a container fetches its first layer, within {@link PREFETCH_BYTES} in flight for the whole edge.
 * @module
 */
import { createHash } from "node:crypto";
import { nativeBackends } from "../codec_native/backends.ts";
import { decodeHead, HEAD_BYTES, MAGIC } from "../container/format.ts";
import { openContainer } from "../container/open.ts";
import { type ByteSource, LOCAL_HINTS, type SourceHints } from "../container/source.ts";
import { checkRange } from "../container/source.ts";
import { HttpError } from "../http/http_error.ts";
import { openPositionalReader } from "../io/positional_reader.ts";
import { StoreError } from "../store/errors.ts";
import { isNoSpace } from "../store/file_object_store.ts";
import type { StoredObject } from "../store/object_store.ts";
import { parseRangeAnswer, type RangePart } from "./byte_ranges.ts";
import { type ContainerMap, containerMap, CUT } from "./container_map.ts";
import type { OriginClient } from "./origin_client.ts";
import { linkPacer } from "../client/link_pacer.ts";
import { rawName, segmentName, type SpanCache } from "./span_cache.ts";
import { OPEN_HOLD_BYTES, type OpenStream, openStream, STOP_STREAM } from "./open_stream.ts";

/**
 * Bytes asked from the end of a blob when it is opened (its start streams from byte 0): a client's
 * own opening asks for the last 256 KiB, and one segment (up to 256 KiB) more makes every segment
 * that range touches whole in the answer, so it is served without an origin request of its own.
 */
export const OPEN_SUFFIX = 512 << 10;
/**
 * How long the opening stream, having delivered all it was asked for, waits for a read to extend
 * it before it is closed: a load reading on asks for the next layer well within this.
 */
export const STREAM_GRACE_MS = 100;
/** Largest origin request for consecutive missing segments. */
export const MAX_FETCH = 8 << 20;
/** Bytes a long read through the tiers asks for ahead of the segment it waits for. */
export const PIECES_AHEAD = 1 << 20;
/** Prefetched bytes in flight, for the whole edge. */
export const PREFETCH_BYTES = 64 << 20;

/**
 * How the one reader should read an edge container: spans as for HTTP (a miss is an origin
 * request), which from disk cost a few file reads each.
 */
export const EDGE_HINTS: SourceHints = { spanBytes: 4 << 20, gapBytes: 256 << 10, inflight: 4 };

/** Counters of the edge's reads. */
export interface EdgeFigures {
  /** Segments read from the disk tier. */
  readonly diskHits: number;
  /** Their bytes. */
  readonly diskBytes: number;
  /** Segments fetched from the origin. */
  readonly originSegments: number;
  /** Their bytes. */
  readonly originSegmentBytes: number;
  /** Segments that joined a fetch already under way. */
  readonly joined: number;
  /** Segments that failed verification. */
  readonly verifyFailures: number;
  /** Bytes prefetched. */
  readonly prefetchBytes: number;
}

/** What the blobs need. */
export interface EdgeBlobsDeps {
  /** The origin. */
  readonly origin: OriginClient;
  /** The disk tier. */
  readonly spans: SpanCache;
  /** Folder for what opens learnt (size, head, index, original header). */
  readonly metaDir: string;
  /** Writes a log line. */
  readonly log?: (line: string) => void;
  /** Prefetch budget; {@link PREFETCH_BYTES}. */
  readonly prefetchBytes?: number;
}

/** The edge's blobs. */
export interface EdgeBlobs {
  /** Opens blob `sha256`: a verified tiered source, or null when the origin has none. */
  open(sha256: string): Promise<StoredObject | null>;
  /** Current counters. */
  figures(): EdgeFigures;
}

interface BlobMeta {
  readonly format: "tessera-edge-blob/1";
  readonly kind: "container" | "raw";
  readonly size: number;
  /** The head, hex (containers). */
  readonly head?: string;
  /**
   * Where the stored original header is (containers; its bytes are in `<sha>.header`). Absent in
   * what edges wrote before the open checked the header: such a blob is opened from the origin
   * again.
   */
  readonly header?: { readonly offset: number; readonly length: number };
}

/** Stored bytes at a known offset. */
interface Placed {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** Ranges that overlap or touch, merged into one (the two ends of a small container). */
function mergeParts(parts: readonly RangePart[]): RangePart[] {
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  const out: RangePart[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    const lastEnd = last ? last.start + last.bytes.length : -1;
    if (!last || p.start > lastEnd) {
      out.push(p);
      continue;
    }
    const end = Math.max(lastEnd, p.start + p.bytes.length);
    const merged = new Uint8Array(end - last.start);
    merged.set(last.bytes, 0);
    merged.set(p.bytes, p.start - last.start);
    out[out.length - 1] = { start: last.start, bytes: merged };
  }
  return out;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const isMagic = (b: Uint8Array) => b.length >= MAGIC.length && MAGIC.every((v, i) => b[i] === v);

/**
 * Creates the blobs of an edge.
 *
 * @example
 * ```ts ignore
 * const blobs = createEdgeBlobs({ origin, spans, metaDir: `${dir}/meta` });
 * const o = await blobs.open(sha);
 * ```
 */
export function createEdgeBlobs(deps: EdgeBlobsDeps): EdgeBlobs {
  const { origin, spans } = deps;
  const backends = nativeBackends();
  const budget = deps.prefetchBytes ?? PREFETCH_BYTES;
  // Demand and prefetch are paced apart, and a prefetch waits while any demand fetch is under way:
  // a request a client waits for never queues behind the next layer (measured: a 5.9 MB first
  // layer prefetch held a client's 250 KB open for 470 ms at 100 Mbit/s).
  const pacer = linkPacer(), prefetchPacer = linkPacer({ maxInflight: 2 });
  let demandInFlight = 0;
  const demandIdle: (() => void)[] = [];
  const whenNoDemand = () =>
    demandInFlight === 0 ? Promise.resolve() : new Promise<void>((r) => demandIdle.push(r));
  let diskHits = 0, diskBytes = 0, originSegments = 0, originSegmentBytes = 0, joined = 0;
  let verifyFailures = 0, prefetched = 0, prefetchInFlight = 0;
  const path = (sha: string) => `/v1/store/objects/blobs/${sha}`;
  const metaPath = (sha: string, ext: string) => `${deps.metaDir}/${sha.slice(0, 2)}/${sha}.${ext}`;

  async function writeMeta(sha: string, meta: BlobMeta, index?: Uint8Array, header?: Placed) {
    const dir = `${deps.metaDir}/${sha.slice(0, 2)}`;
    await Deno.mkdir(dir, { recursive: true });
    const put = async (ext: string, bytes: Uint8Array) => {
      const tmp = `${metaPath(sha, ext)}.${crypto.randomUUID()}`;
      await Deno.writeFile(tmp, bytes);
      await Deno.rename(tmp, metaPath(sha, ext));
    };
    if (index) await put("index", index);
    if (header) await put("header", header.bytes);
    // The JSON last: it names the other files, so they are whole when it exists.
    const tmp = `${metaPath(sha, "json")}.${crypto.randomUUID()}`;
    await Deno.writeTextFile(tmp, JSON.stringify(meta));
    await Deno.rename(tmp, metaPath(sha, "json"));
  }

  async function readMeta(
    sha: string,
  ): Promise<{ meta: BlobMeta; index?: Uint8Array; header?: Placed } | null> {
    try {
      const meta = JSON.parse(await Deno.readTextFile(metaPath(sha, "json"))) as BlobMeta;
      if (meta.format !== "tessera-edge-blob/1") return null;
      if (meta.kind === "raw" || !meta.header) return { meta };
      const header = {
        offset: meta.header.offset,
        bytes: await Deno.readFile(metaPath(sha, "header")),
      };
      if (header.bytes.length !== meta.header.length) return null;
      return { meta, index: await Deno.readFile(metaPath(sha, "index")), header };
    } catch {
      return null;
    }
  }

  /**
   * Fetches a raw blob whole (or takes `stream`, the opening request's body from byte 0), checks
   * its SHA-256, keeps it; a reader over the file.
   */
  async function openRaw(sha: string, stream?: OpenStream): Promise<StoredObject | null> {
    const name = rawName(sha);
    let file = spans.path(name);
    if (file) stream?.cancel();
    if (!file) {
      const tmp = spans.tempPath();
      const h = createHash("sha256");
      let size = 0;
      // The blob's bytes into the temporary file, hashed and counted as they go.
      const intoTemp = async (fill: (keep: (p: Uint8Array) => Promise<void>) => Promise<void>) => {
        const f = await Deno.open(tmp, { write: true, createNew: true });
        try {
          await fill(async (p) => {
            h.update(p);
            size += p.length;
            for (let done = 0; done < p.length;) done += await f.write(p.subarray(done));
          });
        } finally {
          f.close();
        }
      };
      // The disk tier's own failure (a full disk) is ours, not the origin's: 507 no_space, as a
      // store answers, rather than a 502 that blames the origin.
      try {
        if (stream) await intoTemp((keep) => stream.drain(keep));
        else {
          const res = await origin.request(path(sha));
          if (res.status === 404) {
            await res.body?.cancel();
            return null;
          }
          if (res.status !== 200) throw badAnswer(sha, res.status);
          await intoTemp(async (keep) => void await origin.pipe(res, keep));
        }
      } catch (e) {
        await Deno.remove(tmp).catch(() => {});
        if (!isNoSpace(e)) throw e;
        throw new StoreError(
          "no_space",
          `the edge's disk tier cannot keep blob ${sha}: ${(e as Error).message}`,
          { cause: e },
        );
      }
      if (h.digest("hex") !== sha) {
        await Deno.remove(tmp).catch(() => {});
        verifyFailures++;
        throw new HttpError(
          502,
          "origin_corrupt",
          `the origin sent blob ${sha} with another SHA-256`,
        );
      }
      await spans.adopt(name, tmp, size);
      await writeMeta(sha, { format: "tessera-edge-blob/1", kind: "raw", size });
      file = spans.path(name);
      if (!file) throw new Error(`blob ${sha} is larger than the disk cache`);
    }
    const r = await openPositionalReader(file!);
    return {
      key: `blobs/${sha}`,
      size: r.size,
      readAt: (o, l) => r.readAt(o, l),
      close: () => r.close(),
    };
  }

  function badAnswer(sha: string, status: number): HttpError {
    return new HttpError(502, "origin_bad_answer", `the origin answered ${status} for blob ${sha}`);
  }

  /**
   * The first open of a blob: two requests at once, one for everything from byte 0, whose body
   * streams on into the first layer (`open_stream.ts`), and one for the last {@link OPEN_SUFFIX}
   * bytes (the index). The head and the original header are read from the stream's first bytes.
   */
  async function firstOpen(sha: string): Promise<StoredObject | null> {
    const abort = new AbortController();
    // The stream is asked for first, so it takes the connection kept alive from the refs.
    const answers = await Promise.allSettled([
      origin.request(path(sha), { headers: { Range: "bytes=0-" }, signal: abort.signal }),
      origin.request(path(sha), { headers: { Range: `bytes=-${OPEN_SUFFIX}` } }),
    ]);
    // Both bodies are cancelled, each whatever the other does, and before the stream's signal is
    // aborted: cancelling a body whose request was aborted rejects (AbortError), which turned a
    // 404 or a failed tail request into a 500 and left the other body's connection open.
    const drop = async () => {
      await Promise.all(
        answers.map((a) =>
          a.status === "fulfilled" ? a.value.body?.cancel().catch(() => {}) : undefined
        ),
      );
      abort.abort();
    };
    const failed = answers.find((a) => a.status === "rejected");
    if (failed) {
      await drop();
      throw (failed as PromiseRejectedResult).reason;
    }
    const [res, tailRes] = answers.map((a) => (a as PromiseFulfilledResult<Response>).value);
    if (res.status === 404 || tailRes.status === 404) {
      await drop();
      return null;
    }
    for (const r of [res, tailRes]) {
      if (r.status !== 200 && r.status !== 206) {
        await drop();
        throw badAnswer(sha, r.status);
      }
    }
    // The stream's size: its Content-Range (bytes 0-N/size), or a 200's length.
    const cr = /^bytes 0-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
    const size = res.status === 200
      ? Number(res.headers.get("content-length") ?? NaN)
      : cr
      ? Number(cr[2])
      : NaN;
    if (!Number.isSafeInteger(size) || (cr && Number(cr[1]) !== size - 1)) {
      await drop();
      throw new HttpError(
        502,
        "origin_bad_answer",
        `blob ${sha}: Content-Range ${res.headers.get("content-range")}`,
      );
    }
    const stream = openStream(origin, res, abort);
    let answer;
    try {
      const first = await stream.prefix(HEAD_BYTES);
      if (!isMagic(first) || size < HEAD_BYTES) {
        await tailRes.body?.cancel();
        return await openRaw(sha, stream);
      }
      const tail = await origin.body(tailRes);
      answer = parseRangeAnswer(
        tailRes.status,
        tailRes.headers.get("content-type"),
        tailRes.headers.get("content-range"),
        tail,
      );
      if (answer.size !== size) throw new Error(`sizes ${answer.size} and ${size} differ`);
    } catch (e) {
      stream.cancel();
      await tailRes.body?.cancel().catch(() => {});
      if (e instanceof HttpError || e instanceof StoreError) throw e;
      throw new HttpError(502, "origin_bad_answer", `blob ${sha}: ${(e as Error).message}`);
    }
    try {
      return await openContainerFromStream(sha, size, stream, answer.parts);
    } catch (e) {
      stream.cancel();
      throw e;
    }
  }

  /** The rest of {@link firstOpen}, once the stream and the tail answered. */
  async function openContainerFromStream(
    sha: string,
    size: number,
    stream: OpenStream,
    tailParts: readonly RangePart[],
  ): Promise<StoredObject> {
    const head = await stream.prefix(HEAD_BYTES);
    const h = decodeHead(head, size);
    const answer = { size, parts: tailParts };
    const inParts = (start: number, end: number) => {
      for (const p of answer.parts) {
        if (start >= p.start && end <= p.start + p.bytes.length) {
          return p.bytes.subarray(start - p.start, end - p.start);
        }
      }
      return null;
    };
    let index = inParts(h.indexOffset, h.indexOffset + h.indexLength);
    if (!index) {
      const r = await origin.request(path(sha), {
        headers: { Range: `bytes=${h.indexOffset}-${h.indexOffset + h.indexLength - 1}` },
      });
      if (r.status !== 206) {
        await r.body?.cancel();
        throw badAnswer(sha, r.status);
      }
      index = await origin.body(r);
    }
    // The stored original header, which the open checks: in the parts fetched, or asked for.
    const fetchRange = async (offset: number, length: number, fresh = false) => {
      const inAnswer = fresh ? null : inParts(offset, offset + length);
      if (inAnswer) return inAnswer.slice();
      // The header follows the head: in the stream's first bytes.
      if (!fresh && offset + length <= OPEN_HOLD_BYTES) {
        const first = await stream.prefix(offset + length);
        if (first.length === offset + length) return first.slice(offset);
      }
      const r = await origin.request(path(sha), {
        headers: { Range: `bytes=${offset}-${offset + length - 1}` },
      });
      if (r.status !== 206) {
        await r.body?.cancel();
        throw badAnswer(sha, r.status);
      }
      const bytes = await origin.body(r);
      if (bytes.length !== length) {
        throw new HttpError(502, "origin_bad_answer", `blob ${sha}: ${bytes.length} header bytes`);
      }
      return bytes;
    };
    let opened = await containerSource(sha, answer.size, head, index.slice(), {
      read: fetchRange,
      parts: answer.parts,
    });
    if (opened.headerBad) {
      // Bytes that fail their SHA-256 are asked for once more, on their own. A second failure
      // leaves the container open without its original header, as the origin itself serves a
      // container whose stored header is damaged (every tensor, each chunk checked; reads that
      // need the header fail), with nothing of the header kept, so the next open asks again.
      verifyFailures++;
      opened.source.close();
      deps.log?.(`edge: container ${sha}: the original header fails its SHA-256; fetching again`);
      opened = await containerSource(sha, answer.size, head, index.slice(), {
        read: (offset, length) => fetchRange(offset, length, true),
      });
      if (opened.headerBad) verifyFailures++;
    }
    opened.start(stream);
    // Kept for a restart; a reader need not wait for the files (measured: under load these writes
    // took up to 400 ms while the first layer's segments were being written).
    writeMeta(
      sha,
      {
        format: "tessera-edge-blob/1",
        kind: "container",
        size: answer.size,
        head: hex(head),
        header: opened.header && !opened.headerBad
          ? { offset: opened.header.offset, length: opened.header.bytes.length }
          : undefined,
      },
      index,
      opened.headerBad ? undefined : opened.header,
    ).catch((e) => deps.log?.(`edge: cannot keep what opening ${sha} learnt: ${e}`));
    return opened.source;
  }

  /**
   * The tiered source of container `sha`, whose `head` and stored `index` are known (and are
   * verified here by opening them). The open also reads the stored original header: `from.header`
   * when it is known (a reopen), else `from.read` fetches it. `from.parts` are bytes already
   * fetched, kept where whole segments. Returns the source, the header bytes the open read, and
   * whether they failed their check (then they must not be kept).
   */
  async function containerSource(
    sha: string,
    size: number,
    head: Uint8Array,
    index: Uint8Array,
    from: {
      readonly header?: Placed;
      readonly read?: (offset: number, length: number) => Promise<Uint8Array>;
      readonly parts?: readonly RangePart[];
    },
  ): Promise<
    { source: StoredObject; header?: Placed; headerBad: boolean; start(stream?: OpenStream): void }
  > {
    const h = decodeHead(head, size);
    let header = from.header;
    const boot: ByteSource = {
      size,
      async readAt(offset, length) {
        if (offset + length <= HEAD_BYTES) return head.subarray(offset, offset + length);
        if (offset >= h.indexOffset && offset + length <= h.indexOffset + h.indexLength) {
          return index.subarray(offset - h.indexOffset, offset - h.indexOffset + length);
        }
        // The one other read of an open: the stored original header.
        if (header && offset === header.offset && length === header.bytes.length) {
          return header.bytes;
        }
        if (!from.read) throw new Error(`bytes ${offset}-${offset + length} are not known`);
        header = {
          offset,
          bytes: length === 0 ? new Uint8Array(0) : await from.read(offset, length),
        };
        return header.bytes;
      },
      close() {},
    };
    let c;
    try {
      c = await openContainer(boot, backends);
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(502, "origin_corrupt", `container ${sha}: ${(e as Error).message}`, {}, {
        cause: e,
      });
    }
    const headerBad = c.headerError !== undefined;
    const map = containerMap(c, head);
    const tiered = tieredReads(sha, map);
    for (const p of mergeParts(from.parts ?? [])) {
      for (const i of map.covering(p.start, p.start + p.bytes.length)) {
        const s = map.segments[i];
        if (s.start < p.start || s.end > p.start + p.bytes.length) continue;
        if (spans.has(segmentName(sha, s.start, s.end - s.start))) continue;
        const bytes = p.bytes.slice(s.start - p.start, s.end - p.start);
        // Served from memory until it is on disk, so the open never waits on the disk tier's
        // writes (on this shared machine other sessions' writes made them slow).
        if (map.verify(i, bytes) === null) tiered.keep(i, bytes);
      }
    }
    let closed = false;
    const source: StoredObject = {
      key: `blobs/${sha}`,
      size,
      // Read like a local file once every segment is on disk: no request to amortise then.
      get hints() {
        return tiered.allOnDisk() ? LOCAL_HINTS : EDGE_HINTS;
      },
      async readAt(offset, length) {
        if (closed) throw new Error(`blob ${sha}: reader is closed`);
        checkRange(offset, length, size, `blob ${sha}`);
        if (length === 0) return new Uint8Array(0);
        // The head and the index are in memory from the open.
        if (offset + length <= HEAD_BYTES) return head.slice(offset, offset + length);
        if (offset >= h.indexOffset && offset + length <= h.indexOffset + h.indexLength) {
          return index.slice(offset - h.indexOffset, offset - h.indexOffset + length);
        }
        return await tiered.read(offset, length);
      },
      async readInto(offset, target) {
        if (closed) throw new Error(`blob ${sha}: reader is closed`);
        checkRange(offset, target.length, size, `blob ${sha}`);
        const length = target.length;
        if (length === 0) return;
        if (offset + length <= HEAD_BYTES) target.set(head.subarray(offset, offset + length));
        else if (offset >= h.indexOffset && offset + length <= h.indexOffset + h.indexLength) {
          target.set(index.subarray(offset - h.indexOffset, offset - h.indexOffset + length));
        } else await tiered.readInto(offset, target);
      },
      async *readPieces(offset, length, signal) {
        if (closed) throw new Error(`blob ${sha}: reader is closed`);
        checkRange(offset, length, size, `blob ${sha}`);
        // The head is in memory; the rest, in whole segments, through the tiers.
        const inHead = Math.max(0, Math.min(length, HEAD_BYTES - offset));
        if (inHead > 0) yield head.slice(offset, offset + inHead);
        if (length > inHead) yield* tiered.pieces(offset + inHead, length - inHead, signal);
      },
      close() {
        closed = true;
      },
    };
    /** Starts fetching the first layer: from the opening stream when there is one. */
    const start = (stream?: OpenStream) => {
      if (stream) tiered.follow(stream);
      if (map.layers.length > 0) tiered.prefetch(map.layers[0]);
    };
    return { source, header, headerBad, start };
  }

  /** Reads of one container through the tiers, with single-flight fetches and prefetch. */
  function tieredReads(sha: string, map: ContainerMap) {
    const inflight = new Map<number, Promise<Uint8Array>>();
    const prefetchedLayers = new Set<string>();
    // Segment names are looked up on every read; built once each.
    const names: (string | undefined)[] = new Array(map.segments.length);
    const nameOf = (i: number) => {
      const s = map.segments[i];
      return names[i] ??= segmentName(sha, s.start, s.end - s.start);
    };
    // Whether every segment is on disk is asked on every read (the source's hints). A scan of all
    // segments each time cost a warm tile read about 0.13 ms of the edge's 4-6 (CPU profile of a
    // 3,041-tensor model's tiles): the scan resumes where it stopped, and starts again only when
    // the disk tier has evicted something, the only way a held segment goes.
    let held = 0, heldAtEvictions = -1;
    const allOnDisk = () => {
      const evictions = spans.figures().evictions;
      if (evictions !== heldAtEvictions) held = 0, heldAtEvictions = evictions;
      while (held < map.segments.length && spans.has(nameOf(held))) held++;
      return held === map.segments.length;
    };
    const failure = (what: string) =>
      new HttpError(
        502,
        "origin_corrupt",
        `the origin sent bytes that fail their checksum twice: ${what} (container ${sha})`,
      );

    /** Fetches segments `run` (consecutive) in one request; each settles on its own. */
    function fetchRun(
      run: number[],
      attempt = 0,
      prefetching = false,
    ): Map<number, Promise<Uint8Array>> {
      const out = new Map<number, Promise<Uint8Array>>();
      const settle = new Map<number, { resolve(b: Uint8Array): void; reject(e: unknown): void }>();
      for (const i of run) {
        const p = new Promise<Uint8Array>((resolve, reject) => settle.set(i, { resolve, reject }));
        p.catch(() => {});
        out.set(i, p);
        // In flight until its bytes are on disk (or it failed), so no second fetch starts between.
        if (attempt === 0) {
          inflight.set(i, p);
          p.catch(() => {
            if (inflight.get(i) === p) inflight.delete(i);
          });
        }
      }
      const start = map.segments[run[0]].start, end = map.segments[run[run.length - 1]].end;
      (async () => {
        // Paced: the next request leaves when those in flight end within a round trip, so the
        // spans asked first (the first layer) get the whole link rather than a share of it.
        if (prefetching) await whenNoDemand();
        else demandInFlight++;
        const paced = await (prefetching ? prefetchPacer : pacer).acquire(end - start);
        try {
          const res = await origin.request(path(sha), {
            headers: { Range: `bytes=${start}-${end - 1}` },
          });
          paced.headers();
          if (res.status !== 206) {
            await res.body?.cancel();
            throw badAnswer(sha, res.status);
          }
          const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
          if (
            !cr || Number(cr[1]) !== start || Number(cr[2]) !== end - 1 ||
            Number(cr[3]) !== map.size
          ) {
            await res.body?.cancel();
            throw new HttpError(502, "origin_bad_answer", `blob ${sha}: Content-Range ${cr?.[0]}`);
          }
          // Each segment is verified and handed out as soon as its last byte is in.
          const body = new Uint8Array(end - start);
          let filled = 0, next = 0;
          const bad: number[] = [];
          const complete = (i: number) => {
            const s = map.segments[i];
            const bytes = body.subarray(s.start - start, s.end - start);
            const problem = map.verify(i, bytes);
            if (problem) {
              verifyFailures++;
              bad.push(i);
              if (attempt > 0) settle.get(i)!.reject(failure(problem.what));
              return;
            }
            originSegments++;
            originSegmentBytes += bytes.length;
            settle.get(i)!.resolve(bytes);
            const p = inflight.get(i);
            spans.put(nameOf(i), bytes).catch((e) => deps.log?.(`edge: cannot cache: ${e}`))
              .finally(() => {
                if (p && inflight.get(i) === p) inflight.delete(i);
              });
          };
          await origin.pipe(res, (piece) => {
            if (filled + piece.length > body.length) {
              throw new HttpError(502, "origin_bad_answer", `blob ${sha}: body too long`);
            }
            body.set(piece, filled);
            filled += piece.length;
            paced.progress(piece.length);
            while (next < run.length && map.segments[run[next]].end - start <= filled) {
              complete(run[next++]);
            }
          });
          if (bad.length > 0 && attempt === 0) {
            deps.log?.(
              `edge: container ${sha}: ${bad.length} segments failed verification; fetching again`,
            );
            // Once more, each bad segment on its own.
            for (const i of bad) {
              fetchRun([i], 1).get(i)!.then(settle.get(i)!.resolve, settle.get(i)!.reject);
            }
          }
        } finally {
          paced.done();
          if (!prefetching && --demandInFlight === 0) {
            for (const go of demandIdle.splice(0)) go();
          }
        }
      })().catch((e) => {
        for (const s of settle.values()) s.reject(e);
      });
      return out;
    }

    /**
     * The opening stream while it serves: segments below `planned` are taken from it (those
     * claimed wait on it), and a read or prefetch that wants segment `planned` and those after it
     * extends it instead of making a request of its own.
     */
    let live: { planned: number; extend(run: readonly number[], counted: boolean): void } | null =
      null;

    /**
     * Takes the opening stream's bytes: the head's segment and the first layer's that follow it
     * (within the prefetch budget) are claimed at once, so readers join them; then each segment is
     * verified, cached and handed out as its last byte arrives, as for a fetch. When it has
     * delivered all that was claimed and nothing extends it within {@link STREAM_GRACE_MS}, it is
     * closed.
     */
    function follow(stream: OpenStream) {
      const claimed = new Map<
        number,
        { resolve(b: Uint8Array): void; reject(e: unknown): void; counted: boolean }
      >();
      let planned = 0, extendedWake: (() => void) | null = null;
      const claim = (i: number, counted: boolean) => {
        if (inflight.has(i) || spans.has(nameOf(i))) return; // delivered anyway, not taken
        const p = new Promise<Uint8Array>((resolve, reject) =>
          claimed.set(i, { resolve, reject, counted })
        );
        p.catch(() => {
          if (inflight.get(i) === p) inflight.delete(i);
        });
        inflight.set(i, p);
        if (counted) prefetchInFlight += map.segments[i].end - map.segments[i].start;
      };
      const first = map.layers[0];
      const firstLayer = new Set(first === undefined ? [] : map.layerSegments(first));
      for (let room = budget - prefetchInFlight; planned < map.segments.length; planned++) {
        const s = map.segments[planned];
        if (planned > 0 && (!firstLayer.has(planned) || s.end - s.start > room)) break;
        if (planned > 0) room -= s.end - s.start;
        claim(planned, planned > 0);
      }
      live = {
        get planned() {
          return planned;
        },
        extend(run, counted) {
          for (const i of run) claim(i, counted);
          planned = run[run.length - 1] + 1;
          extendedWake?.();
        },
      };
      // The stream's bytes not yet cut into segments, from offset `at`.
      const held: Uint8Array[] = [];
      let received = 0, next = 0;
      const take = (len: number): Uint8Array => {
        let out: Uint8Array;
        if (held[0].length >= len) out = held[0].subarray(0, len);
        else {
          out = new Uint8Array(len);
          for (let k = 0, filled = 0; filled < len; k++) {
            const n = Math.min(held[k].length, len - filled);
            out.set(held[k].subarray(0, n), filled);
            filled += n;
          }
        }
        for (let left = len; left > 0;) {
          const n = Math.min(held[0].length, left);
          if (n === held[0].length) held.shift();
          else held[0] = held[0].subarray(n);
          left -= n;
        }
        return out;
      };
      const complete = (i: number, bytes: Uint8Array) => {
        const d = claimed.get(i);
        if (!d) return;
        claimed.delete(i);
        const n = bytes.length;
        if (d.counted) prefetchInFlight -= n;
        const problem = map.verify(i, bytes);
        if (problem) {
          verifyFailures++;
          deps.log?.(`edge: container ${sha}: ${problem.what}; fetching it again`);
          fetchRun([i], 1).get(i)!.then(d.resolve, d.reject);
          return;
        }
        originSegments++;
        originSegmentBytes += n;
        if (d.counted) prefetched += n;
        d.resolve(bytes);
        const p = inflight.get(i);
        spans.put(nameOf(i), bytes).catch((e) => deps.log?.(`edge: cannot cache: ${e}`))
          .finally(() => {
            if (p && inflight.get(i) === p) inflight.delete(i);
          });
      };
      stream.drain(async (piece) => {
        held.push(piece);
        received += piece.length;
        for (;;) {
          while (next < planned && map.segments[next].end <= received) {
            // Segments follow each other from byte 0: what is held starts the next one.
            const s = map.segments[next];
            complete(next++, take(s.end - s.start));
          }
          if (next < planned || received <= map.segments[planned - 1].end) return;
          // All that was claimed is in: wait a little for a read to extend the stream.
          const before = planned;
          let grace: ReturnType<typeof setTimeout> | undefined;
          await new Promise<void>((r) => {
            extendedWake = r;
            grace = setTimeout(r, STREAM_GRACE_MS);
          });
          // Woken early by an extension: the grace timer is not left running.
          clearTimeout(grace);
          extendedWake = null;
          if (planned === before) {
            live = null; // before anything else can extend it
            throw STOP_STREAM;
          }
        }
      }).catch((e) => e).then((e) => {
        live = null;
        const why = e ?? new HttpError(
          502,
          "origin_bad_answer",
          `blob ${sha}: the opening stream ended at byte ${received}`,
        );
        for (const [i, d] of claimed) {
          if (d.counted) prefetchInFlight -= map.segments[i].end - map.segments[i].start;
          d.reject(why);
        }
        claimed.clear();
      });
    }

    /** Extends the opening stream by the start of `list` when that is where it stands. */
    function extendStream(list: readonly number[], counted: boolean, room = Infinity): number[] {
      if (!live || list.length === 0 || list[0] !== live.planned) return [...list];
      let k = 0;
      while (k < list.length && list[k] === list[0] + k) {
        const n = map.segments[list[k]].end - map.segments[list[k]].start;
        if (n > room) break;
        room -= n;
        k++;
      }
      if (k > 0) live.extend(list.slice(0, k), counted);
      return list.slice(k);
    }

    /** From disk, verified again; null when it is not there or does not verify. */
    async function fromDisk(i: number): Promise<Uint8Array | null> {
      const bytes = await spans.get(nameOf(i));
      if (!bytes) return null;
      if (map.verify(i, bytes) !== null) {
        deps.log?.(`edge: cached segment ${nameOf(i)} is damaged; fetching it again`);
        return null;
      }
      diskHits++;
      diskBytes += bytes.length;
      return bytes;
    }

    /**
     * Part `[from, from + view.length)` of segment `i` read from disk straight into `view` and
     * checked there (the regions it holds; the whole segment when it cuts one); false when the
     * segment is no longer on disk, or its file fails (then it is read through the tiers, which
     * fetch a damaged one again).
     */
    async function diskInto(i: number, from: number, view: Uint8Array): Promise<boolean> {
      const name = nameOf(i), s = map.segments[i];
      try {
        if (!await spans.readInto(name, from - s.start, view)) return false;
      } catch (e) {
        deps.log?.(`edge: cannot read cached segment ${name}: ${e}`);
        return false;
      }
      const problem = map.verifyPart(i, from, view);
      if (problem === CUT) {
        const whole = await fromDisk(i);
        if (!whole) return false;
        view.set(whole.subarray(from - s.start, from - s.start + view.length));
        return true;
      }
      if (problem) return false; // fromDisk, reading it again, logs and refetches it
      diskHits++;
      diskBytes += view.length;
      return true;
    }

    /** Starts prefetching the layer after the one holding byte `offset`. */
    function prefetchAfter(offset: number) {
      const layer = map.layerAt(offset);
      if (layer === null) return;
      const next = map.layers[map.layers.indexOf(layer) + 1];
      if (next !== undefined) prefetch(next);
    }

    /**
     * Fills `target` with bytes from `offset`: each segment's part read from disk into `target`
     * itself and checked there, no buffer of its own (fresh buffers per segment, and a copy out
     * of them, cost a warm edge's whole-file GET about a third of its CPU time); a part not on
     * disk (or damaged) through the tiers.
     */
    async function readInto(offset: number, target: Uint8Array): Promise<void> {
      const end = offset + target.length;
      const segs = map.covering(offset, end);
      const viewOf = (i: number) => {
        const s = map.segments[i];
        return target.subarray(Math.max(offset, s.start) - offset, Math.min(end, s.end) - offset);
      };
      const put = (i: number, bytes: Uint8Array) => {
        const s = map.segments[i];
        viewOf(i).set(
          bytes.subarray(Math.max(offset, s.start) - s.start, Math.min(end, s.end) - s.start),
        );
      };
      // What is on disk is read at once; the rest is obtained together, so that consecutive
      // misses make one origin request.
      const held = (i: number) => !inflight.has(i) && spans.has(nameOf(i));
      const away = segs.filter((i) => !held(i));
      const fetched = Promise.all(obtain(away)).then((b) =>
        b.forEach((bytes, k) => put(away[k], bytes))
      );
      const failed: number[] = [];
      const fromDisk = settleAll(
        segs.filter(held).map(async (i) => {
          const s = map.segments[i];
          if (!await diskInto(i, Math.max(offset, s.start), viewOf(i))) failed.push(i);
        }),
      ).then(() =>
        failed.length > 0
          ? Promise.all(obtain(failed)).then((b) => b.forEach((bytes, k) => put(failed[k], bytes)))
          : undefined
      );
      // Every part that writes into `target` settles before this returns or throws: `target` is
      // the reader's pooled buffer, given to another read once this one fails, and a fetch or a
      // pread still running would write into that read's bytes after they were checked.
      await settleAll([fromDisk, fetched]);
      prefetchAfter(offset);
    }

    /** Promises of segments `segs`, starting fetches for what neither disk nor flight has. */
    function obtain(segs: readonly number[]): Promise<Uint8Array>[] {
      const got = new Map<number, Promise<Uint8Array>>();
      const missing: number[] = [];
      for (const i of segs) {
        const flying = inflight.get(i);
        if (flying) {
          joined++;
          got.set(i, flying);
        } else if (spans.has(nameOf(i))) {
          got.set(i, fromDisk(i).then((b) => b ?? fetchRun([i]).get(i)!));
        } else missing.push(i);
      }
      // Where the opening stream stands, it reads on to them.
      const rest = extendStream(missing, false);
      for (const i of missing) if (!rest.includes(i)) got.set(i, inflight.get(i)!);
      for (const run of runs(rest)) for (const [i, p] of fetchRun(run)) got.set(i, p);
      return segs.map((i) => got.get(i)!);
    }

    /** Consecutive segments grouped, each group at most {@link MAX_FETCH} bytes. */
    function runs(list: readonly number[]): number[][] {
      const out: number[][] = [];
      let cur: number[] = [];
      for (const i of list) {
        const first = cur.length ? map.segments[cur[0]].start : 0;
        if (
          cur.length && (i !== cur[cur.length - 1] + 1 || map.segments[i].end - first > MAX_FETCH)
        ) {
          out.push(cur);
          cur = [];
        }
        cur.push(i);
      }
      if (cur.length) out.push(cur);
      return out;
    }

    function prefetch(layer: string) {
      if (prefetchedLayers.has(layer)) return;
      prefetchedLayers.add(layer);
      let want = map.layerSegments(layer).filter((i) => !inflight.has(i) && !spans.has(nameOf(i)));
      // Where the opening stream stands: it reads on into the layer, no request needed.
      want = extendStream(want, true, budget - prefetchInFlight);
      let room = budget - prefetchInFlight;
      const take: number[] = [];
      for (const i of want) {
        const n = map.segments[i].end - map.segments[i].start;
        if (n > room) break;
        room -= n;
        take.push(i);
      }
      for (const run of runs(take)) {
        const n = map.segments[run[run.length - 1]].end - map.segments[run[0]].start;
        prefetchInFlight += n;
        const all = [...fetchRun(run, 0, true).values()];
        Promise.allSettled(all).then((r) => {
          prefetchInFlight -= n;
          if (r.every((x) => x.status === "fulfilled")) prefetched += n;
        });
      }
    }

    /**
     * Bytes `[offset, offset + length)` segment by segment, each as soon as it is verified (from
     * disk, a fetch under way or a new one), with segments obtained up to {@link PIECES_AHEAD}
     * bytes ahead of the one being waited for.
     */
    async function* pieces(offset: number, length: number, signal?: AbortSignal) {
      const end = offset + length;
      const segs = map.covering(offset, end);
      const sizeOf = (i: number) => map.segments[i].end - map.segments[i].start;
      const queue: { i: number; p: Promise<Uint8Array> }[] = [];
      let k = 0, ahead = 0;
      const refill = () => {
        const take: number[] = [];
        while (k < segs.length && (ahead < PIECES_AHEAD || (queue.length + take.length) === 0)) {
          take.push(segs[k]);
          ahead += sizeOf(segs[k++]);
        }
        if (take.length === 0) return;
        obtain(take).forEach((p, j) => {
          p.catch(() => {}); // awaited below, unless the reader stops first
          queue.push({ i: take[j], p });
        });
      };
      refill();
      while (queue.length > 0) {
        signal?.throwIfAborted();
        const { i, p } = queue.shift()!;
        const bytes = await p;
        ahead -= sizeOf(i);
        refill();
        const s = map.segments[i];
        const layer = map.layerAt(s.start);
        if (layer !== null) {
          const next = map.layers[map.layers.indexOf(layer) + 1];
          if (next !== undefined) prefetch(next);
        }
        yield bytes.subarray(Math.max(offset, s.start) - s.start, Math.min(end, s.end) - s.start);
      }
    }

    /** Verified bytes of segment `i` obtained otherwise: served from memory while cached. */
    function keep(i: number, bytes: Uint8Array) {
      const p = Promise.resolve(bytes);
      inflight.set(i, p);
      spans.put(nameOf(i), bytes).catch((e) => deps.log?.(`edge: cannot cache: ${e}`))
        .finally(() => {
          if (inflight.get(i) === p) inflight.delete(i);
        });
    }

    return {
      prefetch,
      follow,
      pieces,
      keep,
      allOnDisk,
      readInto,
      async read(offset: number, length: number): Promise<Uint8Array> {
        const segs = map.covering(offset, offset + length);
        const parts = await Promise.all(obtain(segs));
        prefetchAfter(offset);
        if (segs.length === 1) {
          const s = map.segments[segs[0]];
          return parts[0].subarray(offset - s.start, offset - s.start + length);
        }
        const out = new Uint8Array(length);
        segs.forEach((i, k) => {
          const s = map.segments[i];
          const from = Math.max(offset, s.start), to = Math.min(offset + length, s.end);
          out.set(parts[k].subarray(from - s.start, to - s.start), from - offset);
        });
        return out;
      },
    };
  }

  async function open(sha: string): Promise<StoredObject | null> {
    const known = await readMeta(sha);
    if (known?.meta.kind === "raw") return await openRaw(sha);
    if (known?.meta.kind === "container" && known.index && known.meta.head && known.header) {
      const opened = await containerSource(
        sha,
        known.meta.size,
        unhex(known.meta.head),
        known.index,
        {
          header: known.header,
        },
      );
      if (!opened.headerBad) {
        opened.start();
        return opened.source;
      }
      // A damaged metadata file: opened afresh from the origin, which rewrites it.
      opened.source.close();
      deps.log?.(`edge: the kept original header of ${sha} is damaged; opening it again`);
    }
    return await firstOpen(sha);
  }

  // Opened containers (their maps and fetches in flight) shared by every reader of one blob, the
  // most recently used few hundred kept; each reader gets its own handle to close.
  const states = new Map<string, Promise<StoredObject | null>>();
  const handle = (o: StoredObject): StoredObject => {
    let closed = false;
    return {
      key: o.key,
      size: o.size,
      get hints() {
        return o.hints;
      },
      readAt(offset, length, signal) {
        if (closed) return Promise.reject(new Error(`${o.key}: reader is closed`));
        return o.readAt(offset, length, signal);
      },
      readInto: o.readInto && ((offset, target, signal) => {
        if (closed) return Promise.reject(new Error(`${o.key}: reader is closed`));
        return o.readInto!(offset, target, signal);
      }),
      readPieces: o.readPieces && (async function* (offset, length, signal) {
        if (closed) throw new Error(`${o.key}: reader is closed`);
        yield* o.readPieces!(offset, length, signal);
      }),
      close() {
        closed = true;
      },
    };
  };

  return {
    async open(sha) {
      let p = states.get(sha);
      if (p) {
        states.delete(sha);
        states.set(sha, p);
      } else {
        p = open(sha);
        states.set(sha, p);
        p.then((o) => {
          // Raw blobs hold a file open: not shared, so not kept.
          if (!o || !o.hints) states.delete(sha), o?.close();
        }, () => states.delete(sha));
        if (states.size > 256) states.delete(states.keys().next().value!);
      }
      const o = await p;
      if (o && !o.hints) return await openRaw(sha);
      return o ? handle(o) : null;
    },
    figures: () => ({
      diskHits,
      diskBytes,
      originSegments,
      originSegmentBytes,
      joined,
      verifyFailures,
      prefetchBytes: prefetched,
    }),
  };
}

/** Waits for every one of `parts` to settle, then throws the first one's failure, if any. */
async function settleAll(parts: readonly Promise<unknown>[]): Promise<void> {
  const failure = (await Promise.allSettled(parts)).find((r): r is PromiseRejectedResult =>
    r.status === "rejected"
  );
  if (failure) throw failure.reason;
}
