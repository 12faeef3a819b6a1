/**
 * Decodes the whole original file block by block into one reused buffer: the fast path for
 * `unpack` and for loading a whole model, where `streamOriginal` (a fresh buffer per chunk) serves
 * callers that keep what they receive. Each block's stored bytes come in one read and, with the
 * native kernels, its chunks decode in one call.
 * @module
 */
import { copyTileRegion, gridSize, type TileGeometry } from "../../codec/tiles.ts";
import { type BatchKernel, nativeBatch } from "../codec_native/kernel.ts";
import { geometryOf, losslessOf, type TensorEntry } from "./index_schema.ts";
import { type Container, decodeStoredChunk, lengthPrefix, readOriginalHeader } from "./read.ts";

/** Options for {@link decodeOriginal}. */
export interface DecodeOriginalOptions {
  /** Bytes of output gathered before each call of `onBlock`; a block holds at least one band. */
  readonly blockBytes?: number;
  /** The native batch decoder; `null` forces the TypeScript decoder. */
  readonly batch?: BatchKernel | null;
}

/** A band: whole rows of one tensor, contiguous in the original file. */
interface Band {
  readonly t: TensorEntry;
  readonly g: TileGeometry;
  readonly tileRow: number;
  /** Offset of the band in the block. */
  readonly at: number;
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
  await onBlock(lengthPrefix(header.length));
  await onBlock(header);
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK;
  const batch = options.batch === undefined ? nativeBatch ?? null : options.batch;
  let block: Uint8Array = new Uint8Array(blockBytes);
  let pending: Band[] = [], pendingBytes = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    block = await decodeBands(c, pending, pendingBytes, block, batch);
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
      pending.push({ t, g, tileRow: tr, at: pendingBytes, bytes });
      pendingBytes += bytes;
    }
  }
  await flush();
}

/**
 * Decodes `bands` (`bytes` in all) into the start of `block`, growing it if needed, and returns
 * it. A band cut into column tiles decodes its tiles past `bytes` first, then scatters them.
 */
async function decodeBands(
  c: Container,
  bands: Band[],
  bytes: number,
  block: Uint8Array,
  batch: BatchKernel | null,
): Promise<Uint8Array> {
  const pieces = [];
  let tileAt = bytes, first = Infinity, last = 0;
  for (const band of bands) {
    const gridCols = Math.ceil(band.g.cols / band.g.tileCols);
    const lossless = losslessOf(band.t);
    for (let k = 0; k < gridCols; k++) {
      const index = band.tileRow * gridCols + k, chunk = lossless.chunks[index];
      const at = gridCols > 1 ? tileAt : band.at;
      if (gridCols > 1) tileAt += chunk[2];
      pieces.push({ band, index, chunk, layout: lossless.layout, at, tiled: gridCols > 1 });
      first = Math.min(first, chunk[0]), last = Math.max(last, chunk[0] + chunk[1]);
    }
  }
  if (block.length < tileAt) block = new Uint8Array(tileAt);
  const stored = await c.reader.readAt(first, last - first);
  const left = batch
    ? batch(
      stored,
      first,
      pieces.map((p) => ({
        offset: p.chunk[0],
        storedLength: p.chunk[1],
        rawLength: p.chunk[2],
        rawXxh32: p.chunk[4],
        width: p.layout.width,
        signMoved: p.layout.signMoved,
        at: p.at,
      })),
      block,
    )
    : null;
  for (let k = 0; k < pieces.length; k++) {
    const p = pieces[k], [offset, storedLength, rawLength] = p.chunk;
    const out = block.subarray(p.at, p.at + rawLength);
    // The TypeScript decoder does what the kernel left (zstd planes, failures), naming any failure;
    // a chunk the kernel failed also has its stored checksum checked, to tell storage corruption.
    if (!left || left[k]) {
      const from = offset - first;
      decodeStoredChunk(c, p.band.t, p.index, stored.subarray(from, from + storedLength), out, {
        native: false,
        decode: { verifyStored: !!left },
      });
    }
    if (p.tiled) {
      const { g, tileRow, at, bytes } = p.band, r0 = tileRow * g.tileRows;
      const rect = { r0, r1: r0 + bytes / (g.cols * g.width), c0: 0, c1: g.cols };
      copyTileRegion(g, p.index, out, rect, block.subarray(at, at + bytes));
    }
  }
  return block;
}
