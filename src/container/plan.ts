/**
 * The planner: turns any request into an ordered list of blocks, each a run of output bytes with
 * the chunks to decode for it and where their bytes go. A request is a body made of pieces
 * (literal bytes, or a rectangle of a tensor's matrix view cut to a byte window, from its lossless
 * encoding or dequantised from one of its variants): the whole original file or a variant's file,
 * a byte range of it, a tensor, a tile, or a layer as a safetensors file are all bodies. Blocks
 * hold whole bands (one tile row of a rectangle; for a variant, whole tile rows of its view), so
 * no chunk is decoded twice for one body, and they are cut at about {@link BLOCK_BYTES} of output
 * so that a block stays in cache while its consumer hashes or sends it. Browser-safe and I/O-free:
 * the assembler executes the plan.
 * @module
 */
import { type Dtype, dtypeWidth, type PlaneLayout } from "../../codec/dtype.ts";
import {
  matrixShape,
  type Rect,
  type TileGeometry,
  tileRect,
  tilesCovering,
} from "../../codec/tiles.ts";
import { chunksForRegion } from "../../codec/variants/dequantise.ts";
import {
  type LossyEncoding,
  type VariantLayout,
  variantLayout,
} from "../../codec/variants/encoding.ts";
import { geometryOf, losslessOf, type TensorEntry } from "./index_schema.ts";

/** One piece of a body. */
export type Piece =
  /** Bytes held in memory. */
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  /**
   * Bytes `[skip, skip + length)` of `rect` of `tensor`, read row-major: from its lossless
   * encoding, or with `variant`, that lossy encoding of it dequantised to the tensor's dtype.
   */
  | {
    readonly kind: "rect";
    readonly tensor: TensorEntry;
    readonly rect: Rect;
    readonly skip: number;
    readonly length: number;
    readonly variant?: LossyEncoding;
  }
  /**
   * Bytes `[skip, skip + length)` of the payloads of chunks `chunks` (indices, in the order
   * given) of `variant`, a lossy encoding of `tensor`, back to back: the variant's own layout.
   */
  | {
    readonly kind: "payload";
    readonly tensor: TensorEntry;
    readonly variant: LossyEncoding;
    readonly chunks: readonly number[];
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

/** One chunk of a variant to decode for a band. Plain data, like {@link ChunkJob}. */
export interface VariantChunkJob {
  /** The chunk's index in the encoding's chunk table. */
  readonly index: number;
  /** Container offset of the stored chunk. */
  readonly offset: number;
  /** Stored bytes. */
  readonly storedLength: number;
  /** Payload bytes (its sections, decoded). */
  readonly rawLength: number;
  /** XXH32 of the stored bytes. */
  readonly storedXxh32: number;
  /** XXH32 of the payload. */
  readonly rawXxh32: number;
}

/**
 * A band of a variant for a block: the chunks it needs (decoded once per block however many bands
 * share them), dequantised to the tensor's dtype, of which a window lands in the output. Plain
 * data, posted to decode workers: the encoding goes as its layout only (kind, view, tile,
 * params), shared by the jobs of one piece, so a clone does not carry its chunk table.
 */
export interface VariantJob {
  /** The tensor's name, for errors. */
  readonly tensor: string;
  /** The tensor's dtype, which the output takes. */
  readonly dtype: Dtype;
  /** The tensor's shape, onto which the view maps. */
  readonly shape: readonly number[];
  /** What decoding needs of the lossy encoding. */
  readonly layout: VariantLayout;
  /**
   * The band: a rectangle of the tensor's matrix (rows × last dimension), dequantised; absent,
   * the band is the payload of its one chunk, as stored in the variant's own layout.
   */
  readonly rect?: Rect;
  /** The chunks it needs, in chunk order. */
  readonly chunks: readonly VariantChunkJob[];
  /** Band bytes `[skip, skip + length)` (row-major in the rectangle) are the output's... */
  readonly skip: number;
  /** ...`length` bytes... */
  readonly length: number;
  /** ...from output offset `at`. */
  readonly at: number;
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
  /** Variant bands to decode and dequantise; absent when there are none. */
  readonly variants?: readonly VariantJob[];
  /** Decoded bytes (chunks and variant payloads), the block's work. */
  readonly rawBytes: number;
  /** Also check each chunk's stored bytes against their XXH32 (verification). */
  readonly verifyStored?: boolean;
}

/** Output bytes per block: small enough to stay in a core's L2 cache for the consumer. */
export const BLOCK_BYTES = 1 << 20;

/** Chunks a block decodes: its chunk jobs and its variant bands' distinct chunks. */
export function blockChunks(block: Block): number {
  let n = block.jobs.length;
  if (block.variants) {
    const seen = new Set<number>();
    for (const v of block.variants) for (const c of v.chunks) seen.add(c.offset);
    n += seen.size;
  }
  return n;
}

/**
 * A piece for all of `rect` of tensor `t`: its lossless bytes, or with `variant` (a lossy
 * encoding of `t`), that variant dequantised to `t`'s dtype.
 *
 * @example
 * ```ts ignore
 * rectPiece(t, { r0: 0, r1: 4, c0: 0, c1: 8 }); // 4x8 elements of t
 * ```
 */
export function rectPiece(t: TensorEntry, rect: Rect, variant?: LossyEncoding | null): Piece {
  return {
    kind: "rect",
    tensor: t,
    rect,
    skip: 0,
    length: (rect.r1 - rect.r0) * (rect.c1 - rect.c0) * dtypeWidth(t.dtype),
    ...(variant ? { variant } : {}),
  };
}

/**
 * A piece for the payloads of chunks `chunks` (all by default) of `variant`, a lossy encoding
 * of `t`, back to back: the variant's raw bytes in its own layout (docs/FORMAT.md, "Variant
 * chunks").
 */
export function payloadPiece(
  t: TensorEntry,
  variant: LossyEncoding,
  chunks: readonly number[] = variant.chunks.map((_, i) => i),
): Piece {
  let length = 0;
  for (const i of chunks) length += variant.chunks[i][2];
  return { kind: "payload", tensor: t, variant, chunks, skip: 0, length };
}

/** A piece for all of tensor `t`'s lossless bytes. */
export function tensorPiece(t: TensorEntry): Piece {
  return variantTensorPiece(t, null);
}

/**
 * A piece for all of tensor `t` under a variant: `variant` (a lossy encoding of `t`) dequantised,
 * or `t`'s lossless bytes when it is null (the variant keeps `t` exact).
 */
export function variantTensorPiece(t: TensorEntry, variant: LossyEncoding | null): Piece {
  const [rows, cols] = matrixShape(t.shape);
  return rectPiece(t, { r0: 0, r1: rows, c0: 0, c1: cols }, variant);
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

function rowBytesOf(g: { readonly width: number }, rect: Rect): number {
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
    else if (p.kind === "payload") out.push({ ...p, skip: p.skip + a, length: b - a });
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
  const w = dtypeWidth(p.tensor.dtype), rowBytes = rowBytesOf({ width: w }, p.rect);
  const { c0, c1 } = p.rect;
  const of = p.variant ? { variant: p.variant } : {};
  const row = (r: number, from: number, to: number): Piece => {
    // Bytes [from, to) of row r of the rectangle, narrowed to whole elements.
    const e0 = Math.floor(from / w), e1 = Math.ceil(to / w);
    return {
      kind: "rect",
      tensor: p.tensor,
      rect: { r0: p.rect.r0 + r, r1: p.rect.r0 + r + 1, c0: c0 + e0, c1: c0 + e1 },
      skip: from - e0 * w,
      length: to - from,
      ...of,
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
      ...of,
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
  variants: VariantJob[] = [];
  // Variant chunks already counted in rawBytes: a chunk shared by bands is decoded once.
  variantChunks = new Set<number>();

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
      ...(this.variants.length > 0 ? { variants: this.variants } : {}),
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
    if (p.kind === "payload") {
      for (const band of payloadBands(p)) {
        if (room(band.winEnd - band.winStart)) {
          yield b.close();
          b = new BlockBuilder(verify);
        }
        addVariantBand(b, p.tensor, layoutOf(p.variant), p.variant, band);
      }
      continue;
    }
    if (p.variant) {
      for (const band of variantBands(p)) {
        if (room(band.winEnd - band.winStart)) {
          yield b.close();
          b = new BlockBuilder(verify);
        }
        addVariantBand(b, p.tensor, layoutOf(p.variant), p.variant, band);
      }
      continue;
    }
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
  if (b.length > 0 || b.jobs.length > 0 || b.variants.length > 0) yield b.close();
}

/** A band of a variant piece and the window of it that the piece emits. */
interface VariantBand {
  /** The rectangle dequantised; absent for the payload of chunk `chunk`. */
  readonly rect?: Rect;
  /** The chunk whose payload is the band, when `rect` is absent. */
  readonly chunk?: number;
  /** Piece bytes where the band starts. */
  readonly bandStart: number;
  /** Piece bytes `[winStart, winEnd)` emitted from the band. */
  readonly winStart: number;
  readonly winEnd: number;
}

/**
 * Rows of the tensor's matrix per band of variant `e`: whole tile rows of its view, so that no
 * chunk serves two bands. Where the view is the matrix, that is the tile rows; a view row of
 * `m` matrix rows makes it `tileRows·m`; in general the band spans lcm(cols, tileRows × viewCols)
 * elements. (A low-rank variant's S and V chunks serve every band: they are decoded once per
 * block, and cost little next to its rank multiply-adds per element.)
 */
export function variantBandRows(e: VariantLayout, shape: readonly number[]): number {
  const [rows, cols] = matrixShape(shape);
  const span = e.tile[0] * e.view[1];
  return Math.max(1, Math.min(rows, span / gcd(cols, span)));
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The bands of a variant piece that hold its bytes `[skip, skip + length)`, in order. */
function* variantBands(p: Piece & { kind: "rect" }): Generator<VariantBand> {
  const t = p.tensor, e = p.variant!, rowBytes = rowBytesOf({ width: dtypeWidth(t.dtype) }, p.rect);
  const bandRows = variantBandRows(e, t.shape), from = p.skip, to = p.skip + p.length;
  for (let r0 = p.rect.r0; r0 < p.rect.r1;) {
    const r1 = Math.min(p.rect.r1, (Math.floor(r0 / bandRows) + 1) * bandRows);
    const bandStart = (r0 - p.rect.r0) * rowBytes, bandEnd = bandStart + (r1 - r0) * rowBytes;
    const winStart = Math.max(from, bandStart), winEnd = Math.min(to, bandEnd);
    if (winStart < winEnd) {
      yield { rect: { r0, r1, c0: p.rect.c0, c1: p.rect.c1 }, bandStart, winStart, winEnd };
    }
    r0 = r1;
  }
}

/** The chunks of a payload piece whose payloads hold its bytes, each a band, in order. */
function* payloadBands(p: Piece & { kind: "payload" }): Generator<VariantBand> {
  const from = p.skip, to = p.skip + p.length;
  let bandStart = 0;
  for (const chunk of p.chunks) {
    const bandEnd = bandStart + p.variant.chunks[chunk][2];
    const winStart = Math.max(from, bandStart), winEnd = Math.min(to, bandEnd);
    if (winStart < winEnd) yield { chunk, bandStart, winStart, winEnd };
    if (bandEnd >= to) return;
    bandStart = bandEnd;
  }
}

// One layout object per encoding, so that a block's jobs share it in a structured clone.
const layouts = new WeakMap<LossyEncoding, VariantLayout>();
function layoutOf(e: LossyEncoding): VariantLayout {
  let l = layouts.get(e);
  if (!l) layouts.set(e, l = variantLayout(e));
  return l;
}

/** Adds the job of one variant band, whose window lands at the block's end. */
function addVariantBand(
  b: BlockBuilder,
  t: TensorEntry,
  layout: VariantLayout,
  e: LossyEncoding,
  band: VariantBand,
): void {
  const chunks: VariantChunkJob[] = [];
  const needed = band.rect ? chunksForRegion(layout, t.shape, band.rect) : [band.chunk!];
  for (const index of needed) {
    const [offset, storedLength, rawLength, storedXxh32, rawXxh32] = e.chunks[index];
    chunks.push({ index, offset, storedLength, rawLength, storedXxh32, rawXxh32 });
    if (!b.variantChunks.has(offset)) {
      b.variantChunks.add(offset);
      b.rawBytes += rawLength;
    }
  }
  const length = band.winEnd - band.winStart;
  b.variants.push({
    tensor: t.name,
    dtype: t.dtype,
    shape: t.shape,
    layout,
    ...(band.rect ? { rect: band.rect } : {}),
    chunks,
    skip: band.winStart - band.bandStart,
    length,
    at: b.length,
  });
  b.length += length;
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
