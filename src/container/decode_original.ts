/**
 * Decodes the whole original file block by block into one reused buffer: the fast path for
 * `unpack` and for loading a whole model, where `streamOriginal` (a fresh buffer per chunk) serves
 * callers that keep what they receive. Each block's stored bytes come in one read and, with the
 * native kernels, its chunks decode in one call.
 * @module
 */
import { decodeChunk, scratchBytes } from "../../codec/chunk_decode.ts";
import { copyTileRegion, gridSize, type TileGeometry } from "../../codec/tiles.ts";
import { nativeZstdDecompress } from "../codec_native/zstd.ts";
import { type BatchKernel, nativeBatch, type PieceDescription } from "../codec_native/kernel.ts";
import { chunkFailure } from "./errors.ts";
import { geometryOf, losslessOf, type TensorEntry } from "./index_schema.ts";
import { type Container, readOriginalHeader } from "./read.ts";

/** Options for {@link decodeOriginal}. */
export interface DecodeOriginalOptions {
  /** Bytes of output gathered before each call of `onBlock`; a block holds at least one band. */
  readonly blockBytes?: number;
  /** The native batch decoder; `null` forces the TypeScript decoder. */
  readonly batch?: BatchKernel | null;
}

/** One chunk of a block: where its stored bytes are and where its decoded bytes go. */
interface Piece {
  readonly t: TensorEntry;
  readonly index: number;
  /** Output offset in the block, or in the tile area when `tiled`. */
  readonly at: number;
  readonly tiled: boolean;
}

/** A band: whole rows of one tensor, contiguous in the original file. */
interface Band {
  readonly t: TensorEntry;
  readonly g: TileGeometry;
  readonly tileRow: number;
  readonly bytes: number;
}

const DEFAULT_BLOCK = 4 << 20;

/**
 * Calls `onBlock` with consecutive blocks of the original file, from the length prefix to the
 * last tensor byte. The buffer is reused: `onBlock` must be done with it when its promise settles.
 * Every chunk is checked against its XXH32 and the header against its SHA-256.
 */
export async function decodeOriginal(
  c: Container,
  onBlock: (bytes: Uint8Array) => void | Promise<void>,
  options: DecodeOriginalOptions = {},
): Promise<void> {
  const header = await readOriginalHeader(c);
  const head = new Uint8Array(8 + header.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(header.length), true);
  head.set(header, 8);
  await onBlock(head);
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK;
  const batch = options.batch === undefined ? nativeBatch ?? null : options.batch;
  let block = new Uint8Array(blockBytes);
  let pending: Band[] = [], pendingBytes = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    if (block.length < pendingBytes) block = new Uint8Array(pendingBytes);
    await decodeBands(c, pending, block, batch);
    await onBlock(block.subarray(0, pendingBytes));
    pending = [], pendingBytes = 0;
  };
  for (const t of c.index.tensors) {
    const g = geometryOf(t);
    const [gridRows] = gridSize(g);
    for (let tr = 0; tr < gridRows; tr++) {
      const rows = Math.min(g.rows, (tr + 1) * g.tileRows) - tr * g.tileRows;
      const bytes = rows * g.cols * g.width;
      if (pendingBytes > 0 && pendingBytes + bytes > blockBytes) await flush();
      pending.push({ t, g, tileRow: tr, bytes });
      pendingBytes += bytes;
    }
  }
  await flush();
}

// Decodes `bands` into `block`, in order and back to back.
async function decodeBands(
  c: Container,
  bands: Band[],
  block: Uint8Array,
  batch: BatchKernel | null,
): Promise<void> {
  const pieces: Piece[] = [];
  let at = 0, tileArea = 0, first = Infinity, last = 0;
  for (const b of bands) {
    const gridCols = Math.ceil(b.g.cols / b.g.tileCols), chunks = losslessOf(b.t).chunks;
    const tiled = gridCols > 1;
    for (let k = 0; k < gridCols; k++) {
      const index = b.tileRow * gridCols + k, ch = chunks[index];
      pieces.push({ t: b.t, index, at: tiled ? tileArea : at, tiled });
      if (tiled) tileArea += ch[2];
      first = Math.min(first, ch[0]), last = Math.max(last, ch[0] + ch[1]);
    }
    at += b.bytes;
  }
  const stored = await c.reader.readAt(first, last - first);
  const tiles = new Uint8Array(tileArea);
  const target = (p: Piece) => {
    const raw = losslessOf(p.t).chunks[p.index][2];
    return (p.tiled ? tiles : block).subarray(p.at, p.at + raw);
  };
  let failed: Uint8Array | null = null;
  if (batch) {
    failed = new Uint8Array(pieces.length);
    for (const tiled of [false, true]) {
      const ks = pieces.flatMap((p, k) => p.tiled === tiled ? [k] : []);
      if (ks.length === 0) continue;
      const left = batch(stored, first, ks.map((k) => describe(pieces[k])), tiled ? tiles : block);
      ks.forEach((k, j) => failed![k] = left[j]);
    }
  }
  for (let k = 0; k < pieces.length; k++) {
    if (failed && !failed[k]) continue;
    // The TypeScript decoder handles what the kernel left, and names any failure exactly.
    const p = pieces[k], l = losslessOf(p.t);
    const [offset, storedLength, rawLength, storedXxh32, rawXxh32] = l.chunks[p.index];
    try {
      decodeChunk(
        stored.subarray(offset - first, offset - first + storedLength),
        { storedLength, rawLength, storedXxh32, rawXxh32 },
        l.layout,
        target(p),
        {
          zstdDecompress: nativeZstdDecompress,
          scratch: c.scratch.planes.length >= scratchBytes(rawLength)
            ? c.scratch.planes
            : undefined,
          slots: c.scratch.slots,
          words: c.scratch.words,
          verifyStored: !!failed,
        },
      );
    } catch (e) {
      throw chunkFailure(p.t.name, p.index, offset, e);
    }
  }
  // Scatter column tiles into their bands.
  let bandAt = 0, k = 0;
  for (const b of bands) {
    const gridCols = Math.ceil(b.g.cols / b.g.tileCols);
    if (gridCols > 1) {
      const r0 = b.tileRow * b.g.tileRows, r1 = r0 + b.bytes / (b.g.cols * b.g.width);
      const rect = { r0, r1, c0: 0, c1: b.g.cols };
      const out = block.subarray(bandAt, bandAt + b.bytes);
      for (let j = 0; j < gridCols; j++, k++) {
        copyTileRegion(b.g, pieces[k].index, target(pieces[k]), rect, out);
      }
    } else {
      k += gridCols;
    }
    bandAt += b.bytes;
  }
}

function describe(p: Piece): PieceDescription {
  const l = losslessOf(p.t), ch = l.chunks[p.index];
  return {
    offset: ch[0],
    storedLength: ch[1],
    rawLength: ch[2],
    rawXxh32: ch[4],
    width: l.layout.width,
    signMoved: l.layout.signMoved,
    at: p.at,
  };
}
