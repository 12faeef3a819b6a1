/**
 * Every byte of a container, cut into segments that can each be verified on their own from the
 * index, so an edge checks what an origin sends before it caches or serves a byte of it. The
 * container's regions and their checks (docs/FORMAT.md):
 *
 * | region                 | check                                                         |
 * | ---------------------- | ------------------------------------------------------------- |
 * | head (64 bytes)        | equal to the head the index was verified with                  |
 * | stored original header | inflated, its SHA-256 is `source.header.sha256`                |
 * | each chunk             | XXH32 of its stored bytes is the record's `storedXxh32`       |
 * | the index              | its SHA-256 is the one in the head                             |
 * | every gap between them | zero bytes, as writers fill them                               |
 *
 * A unit is one region with the gap before it; a segment is consecutive whole units of at most
 * {@link SEGMENT_BYTES} (a chunk larger than that is a segment alone), so a segment never cuts a
 * chunk and a tile read fetches little more than its chunk. The head with the original header,
 * and the index, are segments of their own. Chunk tables of every encoding count
 * (lossless and variants); a region of a kind this code does not know would read as a non-zero
 * gap and fail, never pass unchecked. Browser-safe, pure.
 * @module
 */
import { xxh32 } from "../../codec/xxh32.ts";
import type { Backends } from "../container/backends.ts";
import { inflateMeta } from "../container/open.ts";
import type { Container } from "../container/open.ts";
import { layerOrder } from "../container/layers.ts";
import { HEAD_BYTES } from "../container/format.ts";

/** Target size of a segment: about one chunk, so a tile miss fetches little more than it needs. */
export const SEGMENT_BYTES = 256 << 10;

/** One check on a region. */
type Check =
  | { readonly kind: "head" | "header" | "index"; readonly start: number; readonly end: number }
  | {
    readonly kind: "chunk";
    readonly start: number;
    readonly end: number;
    readonly xxh: number;
    /** Index of the tensor in the index. */
    readonly tensor: number;
    /** Index of the chunk in its table. */
    readonly chunk: number;
  };

/** A region and the zero gap before it. */
interface Unit {
  /** Start of the gap (or of the region, without one). */
  readonly start: number;
  /** Where the checked bytes start; `[start, dataStart)` must be zero. */
  readonly dataStart: number;
  /** End. */
  readonly end: number;
  /** What the bytes must satisfy (several when regions coincide). */
  readonly checks: readonly Check[];
}

/** Consecutive whole units. */
export interface Segment {
  /** Its number. */
  readonly index: number;
  /** First byte. */
  readonly start: number;
  /** One past the last. */
  readonly end: number;
  /** Its units, first to last. */
  readonly units: readonly Unit[];
}

/** Where a segment failed: enough to name it in an error. */
export interface VerifyFailure {
  /** The tensor, for a chunk. */
  readonly tensor: string | null;
  /** The chunk's number in its tensor's table. */
  readonly chunk: number | null;
  /** What failed, in words. */
  readonly what: string;
}

/** The segments of one container and how to verify them. */
export interface ContainerMap {
  /** Container size. */
  readonly size: number;
  /** Segments in offset order. */
  readonly segments: readonly Segment[];
  /** Segment numbers covering `[start, end)`. */
  covering(start: number, end: number): number[];
  /** Checks the bytes of segment `i`; null when they are right. */
  verify(i: number, bytes: Uint8Array): VerifyFailure | null;
  /**
   * Checks `bytes`, a part of segment `i` starting at container offset `from`: every region the
   * part overlaps must lie wholly inside it (else {@link CUT}: check the whole segment instead),
   * and its gap bytes must be zero; null when they are right. A read of whole chunks, as the
   * reader's are, is checked without reading the rest of their segments.
   */
  verifyPart(i: number, from: number, bytes: Uint8Array): VerifyFailure | null | typeof CUT;
  /** Layer keys in load order. */
  readonly layers: readonly string[];
  /** The layer whose chunk holds byte `offset`, if one does. */
  layerAt(offset: number): string | null;
  /** Segment numbers holding the chunks of layer `key` (lossless encodings), in order. */
  layerSegments(key: string): number[];
}

/** What {@link ContainerMap.verifyPart} answers for a part that cuts a region. */
export const CUT = "cut";

function zeros(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Builds the map of container `c`, whose head bytes `head` were read together with the index that
 * `openContainer` verified.
 *
 * @example
 * ```ts ignore
 * const map = containerMap(container, headBytes);
 * for (const i of map.covering(0, 4096)) map.verify(i, await fetchSegment(i));
 * ```
 */
export function containerMap(
  c: Container,
  head: Uint8Array,
  segmentBytes = SEGMENT_BYTES,
): ContainerMap {
  const size = c.source.size;
  const index = c.index;
  const checks: Check[] = [
    { kind: "head", start: 0, end: HEAD_BYTES },
    { kind: "index", start: c.head.indexOffset, end: c.head.indexOffset + c.head.indexLength },
  ];
  const h = index.source.header;
  if (h.storedLength > 0) {
    checks.push({ kind: "header", start: h.offset, end: h.offset + h.storedLength });
  }
  const tensorOfChunk: { layer: string }[] = [];
  index.tensors.forEach((t, ti) => {
    for (const e of t.encodings as { chunks?: unknown }[]) {
      if (!Array.isArray(e.chunks)) continue;
      (e.chunks as number[][]).forEach((r, ci) => {
        if (r[1] === 0) return;
        checks.push({
          kind: "chunk",
          start: r[0],
          end: r[0] + r[1],
          xxh: r[3],
          tensor: ti,
          chunk: ci,
        });
      });
    }
    tensorOfChunk[ti] = { layer: t.layer };
  });
  checks.sort((a, b) => a.start - b.start || a.end - b.end);

  // Units: overlapping regions merge into one unit with all their checks; gaps join the next.
  const units: Unit[] = [];
  let at = 0;
  for (let k = 0; k < checks.length;) {
    const first = checks[k];
    let end = first.end;
    const group: Check[] = [first];
    for (k++; k < checks.length && checks[k].start < end; k++) {
      group.push(checks[k]);
      end = Math.max(end, checks[k].end);
    }
    units.push({ start: at, dataStart: first.start, end, checks: group });
    at = end;
  }
  if (at < size) units.push({ start: at, dataStart: size, end: size, checks: [] });

  // The head with the original header, and the index, are segments of their own: an edge's
  // first request for a container (its first and last bytes) then holds them whole.
  const alone = (u: Unit) => u.checks.some((ch) => ch.kind === "index");
  const isChunk = (u: Unit) => u.checks.some((ch) => ch.kind === "chunk");
  const segments: Segment[] = [];
  for (let u = 0; u < units.length;) {
    const start = units[u].start;
    const list: Unit[] = [units[u++]];
    while (
      u < units.length && !alone(units[u]) && !alone(list[0]) &&
      isChunk(units[u]) === isChunk(list[0]) && units[u].end - start <= segmentBytes
    ) {
      list.push(units[u++]);
    }
    segments.push({ index: segments.length, start, end: list[list.length - 1].end, units: list });
  }
  const starts = segments.map((s) => s.start);
  const segmentAt = (offset: number): number => {
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };

  const layers = layerOrder(index.tensors.map((t) => t.layer));
  const chunkUnits = units.filter((u) => u.checks.some((ch) => ch.kind === "chunk"));
  const unitStarts = chunkUnits.map((u) => u.dataStart);

  const verifyPart = (
    i: number,
    from: number,
    bytes: Uint8Array,
  ): VerifyFailure | null | typeof CUT => {
    const to = from + bytes.length;
    for (const u of segments[i].units) {
      if (u.end <= from || u.start >= to) continue;
      const z0 = Math.max(u.start, from), z1 = Math.min(u.dataStart, to);
      if (z0 < z1 && !zeros(bytes, z0 - from, z1 - from)) {
        return { tensor: null, chunk: null, what: `bytes ${u.start}-${u.dataStart} are not zero` };
      }
      for (const ch of u.checks) {
        if (ch.end <= from || ch.start >= to) continue;
        if (ch.start < from || ch.end > to) return CUT;
        const b = bytes.subarray(ch.start - from, ch.end - from);
        if (ch.kind === "chunk") {
          if (xxh32(b) !== ch.xxh) {
            return {
              tensor: index.tensors[ch.tensor].name,
              chunk: ch.chunk,
              what: `chunk ${ch.chunk} of tensor ${
                index.tensors[ch.tensor].name
              } (bytes ${ch.start}-${ch.end}) fails its stored XXH32`,
            };
          }
        } else if (ch.kind === "head") {
          if (!sameBytes(b, head)) return { tensor: null, chunk: null, what: "the head differs" };
        } else if (ch.kind === "index") {
          if (!hexEquals(sha256(c.backends, b), c.head.indexSha256)) {
            return { tensor: null, chunk: null, what: "the index fails its SHA-256" };
          }
        } else {
          let ok = false;
          try {
            const raw = inflateMeta(c.backends, b, h.codec, h.length, "original header");
            ok = sha256(c.backends, raw) === h.sha256;
          } catch {
            ok = false;
          }
          if (!ok) {
            return { tensor: null, chunk: null, what: "the original header fails its SHA-256" };
          }
        }
      }
    }
    return null;
  };

  const verify = (i: number, bytes: Uint8Array): VerifyFailure | null => {
    const s = segments[i];
    if (bytes.length !== s.end - s.start) {
      return {
        tensor: null,
        chunk: null,
        what: `segment ${i}: ${bytes.length} bytes, not ${s.end - s.start}`,
      };
    }
    // The whole segment holds each of its regions whole: never CUT.
    return verifyPart(i, s.start, bytes) as VerifyFailure | null;
  };

  return {
    size,
    segments,
    covering(start, end) {
      if (end <= start) return [];
      const out: number[] = [];
      for (let i = segmentAt(start); i < segments.length && segments[i].start < end; i++) {
        out.push(i);
      }
      return out;
    },
    verify,
    verifyPart,
    layers,
    layerAt(offset) {
      let lo = 0, hi = unitStarts.length - 1;
      if (hi < 0 || offset < chunkUnits[0].start) return null;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (chunkUnits[mid].start <= offset) lo = mid;
        else hi = mid - 1;
      }
      const u = chunkUnits[lo];
      if (offset >= u.end) return null;
      const ch = u.checks.find((x) => x.kind === "chunk") as Extract<Check, { kind: "chunk" }>;
      return tensorOfChunk[ch.tensor].layer;
    },
    layerSegments(key) {
      const out = new Set<number>();
      for (const t of index.tensors) {
        if (t.layer !== key) continue;
        for (const e of t.encodings) {
          if (e.kind !== "lossless") continue;
          for (const r of (e as { chunks: number[][] }).chunks) {
            if (r[1] > 0) { for (const i of this.covering(r[0], r[0] + r[1])) out.add(i); }
          }
        }
      }
      return [...out].sort((a, b) => a - b);
    },
  };
}

function sha256(backends: Backends, bytes: Uint8Array): string {
  const h = backends.sha256();
  h.update(bytes);
  return h.hex();
}

function hexEquals(hex: string, bytes: Uint8Array): boolean {
  if (hex.length !== bytes.length * 2) return false;
  for (let i = 0; i < bytes.length; i++) {
    if (parseInt(hex.slice(2 * i, 2 * i + 2), 16) !== bytes[i]) return false;
  }
  return true;
}
