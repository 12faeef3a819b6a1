/**
 * The planner: turns any request into an ordered list of blocks, each a run of output bytes with
 * the chunks to decode for it and where their bytes go. A request is a body made of pieces
 * (literal bytes, or a rectangle of a tensor's matrix view cut to a byte window): the whole
 * original file, a byte range of it, a tensor, a tile, or a layer as a safetensors file are all
 * bodies. Blocks hold whole bands (one tile row of a rectangle), so no chunk is decoded twice for
 * one body, and they are cut at about {@link BLOCK_BYTES} of output so that a block stays in cache
 * while its consumer hashes or sends it. Browser-safe and I/O-free: the assembler executes the plan.
 * @module
 */
import type { PlaneLayout } from "../../codec/dtype.ts";
import { type Rect, type TileGeometry, tileRect, tilesCovering } from "../../codec/tiles.ts";
import { geometryOf, losslessOf, type TensorEntry } from "./index_schema.ts";

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

/** Rows of a decoded tile copied into a block's output, clipped to a window of the output. */
export interface RowCopy {
  /** Buffer offset of the first row's segment in the decoded tile. */
  readonly src: number;
  /** Bytes between rows in the decoded tile. */
  readonly srcStride: number;
  /** Rows to copy. */
  readonly rows: number;
  /** Bytes of each row's segment. */
  readonly bytes: number;
  /** Output offset of the first segment, before clipping (may be negative). */
  readonly dst: number;
  /** Bytes between rows in the output. */
  readonly dstStride: number;
  /** Only output bytes `[clipFrom, clipTo)` are written. */
  readonly clipFrom: number;
  /** End of the window written. */
  readonly clipTo: number;
}

/**
 * One chunk to decode for a block. Plain data (structured-cloneable), so it can be posted to a
 * decode worker.
 */
export interface ChunkJob {
  /** The tensor's name, for errors. */
  readonly tensor: string;
  /** The chunk's index in the tensor's chunk table. */
  readonly index: number;
  /** Container offset of the stored chunk. */
  readonly offset: number;
  /** Stored bytes. */
  readonly storedLength: number;
  /** Decoded bytes. */
  readonly rawLength: number;
  /** XXH32 of the stored bytes. */
  readonly storedXxh32: number;
  /** XXH32 of the decoded bytes. */
  readonly rawXxh32: number;
  /** The tensor's plane layout. */
  readonly layout: PlaneLayout;
  /** The chunk decodes to buffer bytes `[at, at + rawLength)`. */
  readonly at: number;
  /** Then these rows are copied into the output; absent, the chunk decoded in place. */
  readonly copy?: RowCopy;
}

/** A run of output bytes and what produces them. */
export interface Block {
  /** Output bytes: the block's buffer `[0, length)`. */
  readonly length: number;
  /** Buffer bytes: the output, then room where chunks that are copied from decode first. */
  readonly bufferBytes: number;
  /** Literal bytes and where they go. */
  readonly literals: readonly { readonly at: number; readonly bytes: Uint8Array }[];
  /** Chunks to decode. */
  readonly jobs: readonly ChunkJob[];
  /** Decoded bytes, the block's work. */
  readonly rawBytes: number;
  /** Also check each chunk's stored bytes against their XXH32 (verification). */
  readonly verifyStored?: boolean;
}

/** Output bytes per block: small enough to stay in a core's L2 cache for the consumer. */
export const BLOCK_BYTES = 1 << 20;

/**
 * A piece for all of `rect` of tensor `t`.
 *
 * @example
 * ```ts ignore
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

/** Length of a body in bytes. */
export function bodyLength(pieces: readonly Piece[]): number {
  let n = 0;
  for (const p of pieces) n += pieceLength(p);
  return n;
}

function rowBytesOf(g: TileGeometry, rect: Rect): number {
  return (rect.c1 - rect.c0) * g.width;
}

/**
 * The pieces holding bytes `[start, end)` of the concatenation of `pieces`. A rectangle is
 * narrowed to the rows those bytes lie in, and a partial first or last row to the columns it
 * touches, so that a small range of a wide matrix decodes only the tiles under it.
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
    if (p.kind === "bytes") out.push({ kind: "bytes", bytes: p.bytes.subarray(a, b) });
    else out.push(...narrowRect(p, p.skip + a, p.skip + b));
    if (at >= end) break;
  }
  return out;
}

/**
 * Bytes `[first, last)` of the rectangle of `p` as at most three pieces: the partial first row
 * and the partial last row narrowed to the columns they touch, and the whole rows between.
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

/** Options of {@link planBlocks}. */
export interface PlanOptions {
  /** Output bytes after which a block is closed; a band larger than this is a block alone. */
  readonly blockBytes?: number;
  /** Mark every block to check stored checksums too, as verification must. */
  readonly verifyStored?: boolean;
  /** Start a new block with every piece, so that no block holds bytes of two pieces. */
  readonly pieceAligned?: boolean;
}

/** A block being filled. */
class BlockBuilder {
  length = 0;
  scratch = 0;
  rawBytes = 0;
  literals: { at: number; bytes: Uint8Array }[] = [];
  // Jobs whose `at` and `copy.src` are relative to the scratch area until the block closes.
  jobs: { job: ChunkJob; inScratch: boolean }[] = [];

  constructor(readonly verifyStored: boolean) {}

  close(): Block {
    const base = this.length;
    const jobs = this.jobs.map(({ job, inScratch }) =>
      inScratch
        ? { ...job, at: base + job.at, copy: { ...job.copy!, src: base + job.copy!.src } }
        : job
    );
    return {
      length: this.length,
      bufferBytes: this.length + this.scratch,
      literals: this.literals,
      jobs,
      rawBytes: this.rawBytes,
      ...(this.verifyStored ? { verifyStored: true } : {}),
    };
  }
}

/**
 * The blocks that produce the body `pieces`, in order; lazily, so that a plan of a large file
 * costs memory for one block at a time.
 *
 * @example
 * ```ts ignore
 * for (const block of planBlocks([tensorPiece(t)])) console.log(block.length, block.jobs.length);
 * ```
 */
export function* planBlocks(
  pieces: readonly Piece[],
  options: PlanOptions = {},
): Generator<Block> {
  const blockBytes = options.blockBytes ?? BLOCK_BYTES, verify = options.verifyStored ?? false;
  let b = new BlockBuilder(verify);
  const room = (n: number) => b.length > 0 && b.length + n > blockBytes;
  for (const p of pieces) {
    if (options.pieceAligned && b.length > 0) {
      yield b.close();
      b = new BlockBuilder(verify);
    }
    if (p.kind === "bytes") {
      // Literals split across blocks, so that a large header does not make one huge block.
      for (let off = 0; off < p.bytes.length;) {
        if (b.length >= blockBytes) {
          yield b.close();
          b = new BlockBuilder(verify);
        }
        const n = Math.min(p.bytes.length - off, Math.max(1, blockBytes - b.length));
        b.literals.push({ at: b.length, bytes: p.bytes.subarray(off, off + n) });
        b.length += n, off += n;
      }
      continue;
    }
    if (p.length === 0) continue;
    const t = p.tensor, g = geometryOf(t), lossless = losslessOf(t);
    const rowBytes = rowBytesOf(g, p.rect), from = p.skip, to = p.skip + p.length;
    for (let r0 = p.rect.r0; r0 < p.rect.r1;) {
      const r1 = Math.min(p.rect.r1, (Math.floor(r0 / g.tileRows) + 1) * g.tileRows);
      const bandStart = (r0 - p.rect.r0) * rowBytes, bandEnd = bandStart + (r1 - r0) * rowBytes;
      const winStart = Math.max(from, bandStart), winEnd = Math.min(to, bandEnd);
      if (winStart < winEnd) {
        const band: Rect = { r0, r1, c0: p.rect.c0, c1: p.rect.c1 };
        if (room(winEnd - winStart)) {
          yield b.close();
          b = new BlockBuilder(verify);
        }
        addBand(
          b,
          t,
          g,
          lossless.layout,
          lossless.chunks,
          band,
          rowBytes,
          bandStart,
          winStart,
          winEnd,
        );
      }
      r0 = r1;
    }
  }
  if (b.length > 0 || b.jobs.length > 0) yield b.close();
}

/** Adds the jobs of one band, whose rectangle bytes `[winStart, winEnd)` are emitted. */
function addBand(
  b: BlockBuilder,
  t: TensorEntry,
  g: TileGeometry,
  layout: PlaneLayout,
  chunks: readonly (readonly number[])[],
  band: Rect,
  rowBytes: number,
  bandStart: number,
  winStart: number,
  winEnd: number,
): void {
  const pos = b.length, w = g.width, rows = band.r1 - band.r0;
  const clipFrom = pos, clipTo = pos + (winEnd - winStart);
  for (const i of tilesCovering(g, band)) {
    const tr = tileRect(g, i), tileRowBytes = (tr.c1 - tr.c0) * w;
    const [offset, storedLength, rawLength, storedXxh32, rawXxh32] = chunks[i];
    const c0 = Math.max(tr.c0, band.c0), c1 = Math.min(tr.c1, band.c1);
    const src = (band.r0 - tr.r0) * tileRowBytes + (c0 - tr.c0) * w;
    const dst = pos + bandStart + (c0 - band.c0) * w - winStart;
    const bytes = (c1 - c0) * w;
    const base = {
      tensor: t.name,
      index: i,
      offset,
      storedLength,
      rawLength,
      storedXxh32,
      rawXxh32,
      layout,
    };
    // In place when the tile is exactly the band's rows and columns and nothing is clipped.
    const inPlace = src === 0 && bytes === tileRowBytes && bytes === rowBytes &&
      rows === tr.r1 - tr.r0 && dst >= clipFrom && dst + rows * bytes <= clipTo;
    if (inPlace) {
      b.jobs.push({ job: { ...base, at: dst }, inScratch: false });
    } else {
      const at = b.scratch;
      b.scratch += rawLength;
      const copy: RowCopy = {
        src: at + src,
        srcStride: tileRowBytes,
        rows,
        bytes,
        dst,
        dstStride: rowBytes,
        clipFrom,
        clipTo,
      };
      b.jobs.push({ job: { ...base, at, copy }, inScratch: true });
    }
    b.rawBytes += rawLength;
  }
  b.length = clipTo;
}
