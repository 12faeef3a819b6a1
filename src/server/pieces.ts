/**
 * Response bodies as lists of pieces: literal bytes, or a rectangle of a tensor's matrix view
 * (optionally cut to a byte window of its row-major bytes). A byte range of the body narrows each
 * rectangle to the tile rows that hold the range, so only those chunks are decoded, and
 * {@link streamPieces} produces the bytes band by band with a bounded read-ahead, so memory per
 * response stays bounded however large the tensor.
 * @module
 */
import { copyTileRegion, type Rect, tileRect, tilesCovering } from "../../codec/tiles.ts";
import type { TileGeometry } from "../../codec/tiles.ts";
import { geometryOf, type TensorEntry } from "../container/index_schema.ts";
import type { ContainerLease } from "../store/container_leases.ts";
import type { ChunkSource } from "./chunk_source.ts";

/** One piece of a body. */
export type Piece =
  /** Bytes held in memory. */
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  /** Bytes `[skip, skip + length)` of `rect` of `tensor`, read row-major. */
  | {
    readonly kind: "rect";
    readonly tensor: TensorEntry;
    readonly rect: Rect;
    readonly skip: number;
    readonly length: number;
  };

/** Options of {@link streamPieces}. */
export interface StreamOptions {
  /** Stops the stream early once aborted. */
  readonly signal?: AbortSignal;
  /** Raw chunk bytes decoded ahead of the consumer. */
  readonly readaheadBytes?: number;
}

/** Default read-ahead: enough to keep a few decode workers busy. */
export const READAHEAD_BYTES = 8 << 20;
/** Largest buffer assembled from several tiles at once. */
export const SUB_BAND_BYTES = 1 << 20;

/** Bytes per row of `rect` of a tensor of geometry `g`. */
function rowBytesOf(g: TileGeometry, rect: Rect): number {
  return (rect.c1 - rect.c0) * g.width;
}

/**
 * A piece for all of `rect` of tensor `t`.
 *
 * @example
 * ```ts
 * rectPiece(t, { r0: 0, r1: 4, c0: 0, c1: 8 }); // 4x8 elements of t
 * ```
 */
export function rectPiece(t: TensorEntry, rect: Rect): Piece {
  const g = geometryOf(t);
  return {
    kind: "rect",
    tensor: t,
    rect,
    skip: 0,
    length: (rect.r1 - rect.r0) * rowBytesOf(g, rect),
  };
}

/** A piece for all of tensor `t`. */
export function tensorPiece(t: TensorEntry): Piece {
  const g = geometryOf(t);
  return rectPiece(t, { r0: 0, r1: g.rows, c0: 0, c1: g.cols });
}

/** Length of `p` in bytes. */
export function pieceLength(p: Piece): number {
  return p.kind === "bytes" ? p.bytes.length : p.length;
}

/**
 * The pieces holding bytes `[start, end)` of the concatenation of `pieces`; rectangles are
 * narrowed to the rows those bytes lie in.
 */
export function slicePieces(pieces: readonly Piece[], start: number, end: number): Piece[] {
  const out: Piece[] = [];
  let at = 0;
  for (const p of pieces) {
    const len = pieceLength(p);
    const a = Math.max(start, at) - at, b = Math.min(end, at + len) - at;
    at += len;
    if (a >= b) {
      if (at >= end) break;
      continue;
    }
    if (p.kind === "bytes") {
      out.push({ kind: "bytes", bytes: p.bytes.subarray(a, b) });
      continue;
    }
    out.push(...narrowRect(p, p.skip + a, p.skip + b));
    if (at >= end) break;
  }
  return out;
}

/**
 * Bytes `[first, last)` of the rectangle of `p` as at most three pieces: the partial first row
 * and the partial last row narrowed to the columns they touch, and the whole rows between. So a
 * small range of a wide matrix decodes only the tiles under it, not whole tile rows.
 */
function narrowRect(p: Piece & { kind: "rect" }, first: number, last: number): Piece[] {
  const g = geometryOf(p.tensor);
  const w = g.width, rowBytes = rowBytesOf(g, p.rect);
  const { c0, c1 } = p.rect;
  const row = (r: number, from: number, to: number): Piece => {
    // Bytes [from, to) of row r of the rectangle, narrowed to whole elements.
    const e0 = Math.floor(from / w), e1 = Math.ceil(to / w);
    return {
      kind: "rect",
      tensor: p.tensor,
      rect: { r0: p.rect.r0 + r, r1: p.rect.r0 + r + 1, c0: c0 + e0, c1: c0 + e1 },
      skip: from - e0 * w,
      length: to - from,
    };
  };
  // The bytes lie in rows [rFirst, rLast) of the rectangle.
  const rFirst = Math.floor(first / rowBytes), rLast = Math.ceil(last / rowBytes);
  const headFrom = first - rFirst * rowBytes;
  if (rLast - rFirst === 1) return [row(rFirst, headFrom, last - rFirst * rowBytes)];
  const out: Piece[] = [];
  let r0 = rFirst;
  if (headFrom > 0) out.push(row(r0++, headFrom, rowBytes));
  const tailTo = last - (rLast - 1) * rowBytes;
  const r1 = tailTo < rowBytes ? rLast - 1 : rLast;
  if (r1 > r0) {
    out.push({
      kind: "rect",
      tensor: p.tensor,
      rect: { r0: p.rect.r0 + r0, r1: p.rect.r0 + r1, c0, c1 },
      skip: 0,
      length: (r1 - r0) * rowBytes,
    });
  }
  if (r1 < rLast) out.push(row(rLast - 1, 0, tailTo));
  return out;
}

/** One unit of work: literal bytes, or one tile row of a rectangle. */
type Step =
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | {
    readonly kind: "band";
    readonly tensor: TensorEntry;
    readonly g: TileGeometry;
    readonly band: Rect;
    readonly tiles: readonly number[];
    readonly rowBytes: number;
    /** Offset of the band within the rectangle's bytes. */
    readonly bandStart: number;
    /** The byte window of the rectangle to emit. */
    readonly from: number;
    readonly to: number;
    readonly rawBytes: number;
  };

function* steps(pieces: readonly Piece[]): Generator<Step> {
  for (const p of pieces) {
    if (p.kind === "bytes") {
      if (p.bytes.length > 0) yield p;
      continue;
    }
    if (p.length === 0) continue;
    const g = geometryOf(p.tensor);
    const rowBytes = rowBytesOf(g, p.rect);
    const from = p.skip, to = p.skip + p.length;
    for (let r0 = p.rect.r0; r0 < p.rect.r1;) {
      const r1 = Math.min(p.rect.r1, (Math.floor(r0 / g.tileRows) + 1) * g.tileRows);
      const band = { r0, r1, c0: p.rect.c0, c1: p.rect.c1 };
      const bandStart = (r0 - p.rect.r0) * rowBytes;
      if (bandStart + (r1 - r0) * rowBytes > from && bandStart < to) {
        const tiles = tilesCovering(g, band);
        let rawBytes = 0;
        for (const i of tiles) {
          const t = tileRect(g, i);
          rawBytes += (t.r1 - t.r0) * (t.c1 - t.c0) * g.width;
        }
        yield {
          kind: "band",
          tensor: p.tensor,
          g,
          band,
          tiles,
          rowBytes,
          bandStart,
          from,
          to,
          rawBytes,
        };
      }
      r0 = r1;
    }
  }
}

function* emitBand(
  step: Step & { kind: "band" },
  chunks: readonly Uint8Array[],
): Generator<Uint8Array> {
  const { g, band, rowBytes, bandStart } = step;
  const from = Math.max(step.from, bandStart);
  const to = Math.min(step.to, bandStart + (band.r1 - band.r0) * rowBytes);
  if (from >= to) return;
  if (band.c0 === 0 && band.c1 === g.cols && chunks.length === 1) {
    // One tile spans the full width: the band is a contiguous slice of the chunk, no copy.
    const base = (band.r0 - tileRect(g, step.tiles[0]).r0) * rowBytes - bandStart;
    yield chunks[0].subarray(base + from, base + to);
    return;
  }
  const rowFrom = Math.floor((from - bandStart) / rowBytes);
  const rowTo = Math.ceil((to - bandStart) / rowBytes);
  const rowsPer = Math.max(1, Math.floor(SUB_BAND_BYTES / rowBytes));
  for (let r = rowFrom; r < rowTo; r += rowsPer) {
    const re = Math.min(rowTo, r + rowsPer);
    const sub = { r0: band.r0 + r, r1: band.r0 + re, c0: band.c0, c1: band.c1 };
    const out = new Uint8Array((re - r) * rowBytes);
    chunks.forEach((chunk, k) => copyTileRegion(g, step.tiles[k], chunk, sub, out));
    const subStart = bandStart + r * rowBytes;
    const a = Math.max(from, subStart) - subStart;
    const b = Math.min(to, subStart + out.length) - subStart;
    yield a === 0 && b === out.length ? out : out.subarray(a, b);
  }
}

/**
 * Streams the bytes of `pieces`, decoding through `chunks` with up to `readaheadBytes` of chunks
 * decoded ahead of the consumer. Every chunk is verified before its bytes are yielded; a corrupt
 * one makes the generator throw.
 */
export async function* streamPieces(
  pieces: readonly Piece[],
  lease: ContainerLease,
  chunks: ChunkSource,
  options: StreamOptions = {},
): AsyncGenerator<Uint8Array> {
  const budget = options.readaheadBytes ?? READAHEAD_BYTES;
  const plan = steps(pieces);
  const window: { step: Step; ready: Promise<Uint8Array[]> | null }[] = [];
  let windowBytes = 0, planDone = false;
  const fill = () => {
    while (!planDone && (window.length === 0 || windowBytes < budget)) {
      if (options.signal?.aborted) return;
      const n = plan.next();
      if (n.done) {
        planDone = true;
        return;
      }
      const step = n.value;
      if (step.kind === "bytes") {
        window.push({ step, ready: null });
        continue;
      }
      const ready = Promise.all(step.tiles.map((i) => chunks.get(lease, step.tensor, i)));
      ready.catch(() => {}); // awaited below; a step abandoned on cancel must not go unhandled
      window.push({ step, ready });
      windowBytes += step.rawBytes;
    }
  };
  for (;;) {
    fill();
    const w = window.shift();
    if (!w || options.signal?.aborted) return;
    if (w.step.kind === "bytes") {
      yield w.step.bytes;
      continue;
    }
    const decoded = await w.ready!;
    windowBytes -= w.step.rawBytes;
    fill(); // start the next decodes before copying this band out
    yield* emitBand(w.step, decoded);
  }
}
