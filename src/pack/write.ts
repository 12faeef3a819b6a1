/**
 * Packs a safetensors file into a `.tsr` container: hash, tile, encode, write aligned chunks, then
 * the index and the head, atomically.
 * @module
 */
import {
  encodeChunk,
  type EncodeOptions,
  encodeScratch,
  type Mode,
  type ZstdCompress,
} from "../../codec/chunk_encode.ts";
import { type PlaneLayout, planeLayout } from "../../codec/dtype.ts";
import { int4Candidate } from "../../codec/packing.ts";
import {
  chooseTiles,
  copyTileRegion,
  gridSize,
  type TileGeometry,
  tileRect,
} from "../../codec/tiles.ts";
import { sha256, sha256Bytes, sha256Hex } from "../hash/sha256.ts";
import { type AtomicFile, createAtomicFile } from "../io/atomic_file.ts";
import { openFileReader, type RandomAccessReader } from "../io/random_access.ts";
import { readSafetensorsHeader, type TensorInfo } from "../safetensors/parse.ts";
import { nativeZstdCompress } from "../codec_native/zstd.ts";
import {
  alignUp,
  BEST_ALIGNMENT,
  DEFAULT_ALIGNMENT,
  DEFAULT_CHUNK_BYTES,
  encodeHead,
  FORMAT_VERSION,
  HEAD_BYTES,
  INDEX_PLAIN,
  INDEX_ZSTD,
  MAX_ALIGNMENT,
  MAX_CHUNK_BYTES,
  MAX_INDEX_BYTES,
  MIN_ALIGNMENT,
} from "../container/format.ts";
import type { ChunkRecord, Index, TensorEntry } from "../container/index_schema.ts";
import { DEFAULT_LAYER_PATTERN, layerKey, layerOrder } from "../container/layers.ts";
import { createEncodePool, encodeChecked, type EncodedChunk } from "./encode_pool.ts";

/** Progress of a pack, reported after every chunk. */
export interface PackProgress {
  /** Raw bytes of the original file consumed so far. */
  readonly bytesIn: number;
  /** Bytes of the container written so far. */
  readonly bytesOut: number;
  /** Size of the original file. */
  readonly totalBytes: number;
}

/** Options for {@link packFile}. */
export interface PackOptions {
  /** Codec trade-off; `best` by default. */
  readonly mode?: Mode;
  /**
   * Chunk offset alignment: a power of two from 1 to 4096; by default 1 in `best` (padding is pure
   * size) and 64 in `fast`.
   */
  readonly alignment?: number;
  /** Raw bytes per chunk, about. */
  readonly chunkBytes?: number;
  /** Overrides the layer rule: the first capture group is the layer key. */
  readonly layerPattern?: RegExp;
  /** Called after every chunk. */
  readonly onProgress?: (p: PackProgress) => void;
  /** Zstandard encoder; native by default. An injected one keeps encoding on this thread. */
  readonly zstdCompress?: ZstdCompress;
  /**
   * Encode threads. By default one per core (at most 8) when the tensor data reaches
   * {@link PARALLEL_FROM} bytes, else none: starting workers costs more than a small file takes.
   */
  readonly workers?: number;
}

/** Tensor data from which packing encodes on worker threads by default. */
export const PARALLEL_FROM = 16 << 20;

// Bands of rows up to this size are read in one go; wider ones tile by tile, to bound memory.
const MAX_BAND_BYTES = 32 << 20;
// Bands too wide to read whole are hashed this much at a time.
const HASH_BLOCK = 8 << 20;

/** Packs safetensors `input` into container `output`; returns the index written. */
export async function packFile(
  input: string,
  output: string,
  options: PackOptions = {},
): Promise<Index> {
  const reader = await openFileReader(input);
  try {
    return await packReader(reader, output, options);
  } finally {
    reader.close();
  }
}

/** Packs from any positional reader; the output file appears only once complete. */
export async function packReader(
  reader: RandomAccessReader,
  output: string,
  options: PackOptions = {},
): Promise<Index> {
  const mode = options.mode ?? "best";
  const alignment = options.alignment ?? (mode === "best" ? BEST_ALIGNMENT : DEFAULT_ALIGNMENT);
  if (
    !(Number.isInteger(alignment) && alignment >= MIN_ALIGNMENT && alignment <= MAX_ALIGNMENT &&
      (alignment & (alignment - 1)) === 0)
  ) {
    throw new RangeError(
      `alignment must be a power of two from ${MIN_ALIGNMENT} to ${MAX_ALIGNMENT}: ` +
        `received ${alignment}`,
    );
  }
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!(Number.isSafeInteger(chunkBytes) && chunkBytes >= 64 && chunkBytes <= MAX_CHUNK_BYTES)) {
    throw new RangeError(
      `chunk size must be an integer from 64 to ${MAX_CHUNK_BYTES} bytes: received ${chunkBytes}`,
    );
  }
  const header = await readSafetensorsHeader(reader);
  const zstdCompress = options.zstdCompress ?? nativeZstdCompress;
  const pattern = options.layerPattern ?? DEFAULT_LAYER_PATTERN;
  const dataBytes = reader.size - header.dataStart;
  const workers = options.workers ??
    (options.zstdCompress || dataBytes < PARALLEL_FROM
      ? 0
      : Math.min(8, navigator.hardwareConcurrency || 1));
  const pool = workers > 0 ? createEncodePool(workers) : null;
  const scratch = encodeScratch();
  const out = await createAtomicFile(output);
  try {
    let pos = alignUp(HEAD_BYTES, alignment);
    const headerOffset = pos;
    const storedHeader = compressMeta(header.headerBytes, zstdCompress, mode);
    await out.writeAt(pos, storedHeader.bytes);
    pos += storedHeader.bytes.length;
    const fileHash = sha256();
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(header.headerLength), true);
    fileHash.update(prefix);
    fileHash.update(header.headerBytes);

    let bytesIn = header.dataStart;
    let pendingWrite: Promise<void> = Promise.resolve();
    const tensors: TensorEntry[] = [];
    // Chunks may finish encoding in any order; each waits in `inflight` until it is the oldest,
    // then is written, so offsets follow tensor and tile order.
    const inflight: { chunk: Promise<EncodedChunk>; rawLength: number; into: ChunkRecord[] }[] = [];
    // 16 per worker: with 2 the workers sat idle 40% of the time waiting for reads and writes.
    const window = pool ? 16 * pool.size : 0;
    const writeOldest = async () => {
      const job = inflight.shift()!;
      const c = await job.chunk;
      pos = alignUp(pos, alignment);
      // One write in flight while the next chunk encodes; order is kept by awaiting it first.
      await pendingWrite;
      pendingWrite = out.writeAt(pos, c.stored);
      // A failed write (a full disk) is thrown where it is next awaited; until then it must not
      // go unhandled, which would end the process with a stack trace instead of an error.
      pendingWrite.catch(() => {});
      job.into.push([pos, c.stored.length, job.rawLength, c.storedXxh32, c.rawXxh32]);
      pos += c.stored.length;
      bytesIn += job.rawLength;
      options.onProgress?.({ bytesIn, bytesOut: pos, totalBytes: reader.size });
    };
    for (const t of header.tensors) {
      const tensorHash = sha256();
      const hashBand = (block: Uint8Array) => {
        tensorHash.update(block);
        fileHash.update(block);
      };
      let layout = planeLayout(t.dtype);
      const g = chooseTiles(t.shape, layout.width, chunkBytes);
      const hints = { dtype: t.dtype, tileCols: g.tileCols };
      const chunks: ChunkRecord[] = [];
      let first = true;
      for await (const raw of readTiles(reader, header.dataStart, t, g, hashBand)) {
        if (first && int4Candidate(t.name, t.dtype, t.shape)) {
          layout = packedIfSmaller(raw, t.dtype, { mode, zstdCompress, scratch, ...hints });
        }
        first = false;
        inflight.push({
          chunk: pool ? pool.encode(raw, layout, mode, hints) : Promise.resolve(
            encodeChecked(raw, layout, { mode, zstdCompress, scratch, ...hints }),
          ),
          rawLength: raw.length,
          into: chunks,
        });
        // Rejections are handled when each is written; until then they must not go unhandled.
        inflight[inflight.length - 1].chunk.catch(() => {});
        while (inflight.length > window) await writeOldest();
      }
      tensors.push({
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        offsets: [t.begin, t.end],
        layer: layerKey(t.name, pattern),
        sha256: tensorHash.hex(),
        encodings: [{
          kind: "lossless",
          layout: { ...layout },
          tile: [g.tileRows, g.tileCols],
          chunks,
        }],
      });
    }
    const index: Index = {
      format: "tessera",
      version: FORMAT_VERSION,
      alignment,
      chunkBytes,
      mode,
      source: {
        size: reader.size,
        sha256: fileHash.hex(),
        header: {
          offset: headerOffset,
          storedLength: storedHeader.bytes.length,
          length: header.headerLength,
          codec: storedHeader.codec,
          sha256: sha256Hex(header.headerBytes),
        },
      },
      metadata: header.metadata,
      layers: layerOrder(tensors.map((t) => t.layer), pattern),
      tensors,
    };
    while (inflight.length > 0) await writeOldest();
    await pendingWrite;
    pos = await writeIndexAndHead(out, pos, index, zstdCompress, mode);
    options.onProgress?.({ bytesIn: reader.size, bytesOut: pos, totalBytes: reader.size });
    await out.commit();
    return index;
  } catch (e) {
    await out.abort();
    throw e;
  } finally {
    pool?.close();
  }
}

/**
 * Ends a container whose regions up to `pos` are written: the index at the next multiple of its
 * alignment (zstd if smaller), then the head at 0. Returns the file's length. Shared by packing
 * and by `derive`, which writes containers from containers.
 */
export async function writeIndexAndHead(
  out: AtomicFile,
  pos: number,
  index: Index,
  zstdCompress: ZstdCompress,
  mode: Mode,
): Promise<number> {
  const indexJson = new TextEncoder().encode(JSON.stringify(index));
  if (indexJson.length > MAX_INDEX_BYTES) {
    throw new RangeError(
      `index of ${indexJson.length} bytes exceeds the ${MAX_INDEX_BYTES}-byte limit`,
    );
  }
  const storedIndex = compressMeta(indexJson, zstdCompress, mode);
  pos = alignUp(pos, index.alignment);
  await out.writeAt(pos, storedIndex.bytes);
  await out.writeAt(
    0,
    encodeHead({
      indexCodec: storedIndex.codec,
      indexOffset: pos,
      indexLength: storedIndex.bytes.length,
      indexRawLength: indexJson.length,
      indexSha256: sha256Bytes(storedIndex.bytes),
    }),
  );
  return pos + storedIndex.bytes.length;
}

// The original header and the index are JSON, which zstd shrinks 3-5x: on small models that is
// a visible share of the container. Level 19 took 236 of the 920 ms of a `fast` pack of
// human-fp32.bf16 (its 550 KB index and 147 KB header) to save 9.5 KB against level 9, 0.07% of
// the container; `best` keeps it.
function compressMeta(
  bytes: Uint8Array,
  zstd: ZstdCompress,
  mode: Mode,
): { codec: 0 | 3; bytes: Uint8Array } {
  const packed = zstd(bytes, mode === "best" ? 19 : 9);
  return packed.length < bytes.length
    ? { codec: INDEX_ZSTD, bytes: packed }
    : { codec: INDEX_PLAIN, bytes };
}

/**
 * Yields each tile's bytes (row-major within the tile) in chunk order, reading bounded bands of
 * tile rows. Every band's bytes also go to `onBand`, in file order, so that hashing needs no
 * second read.
 */
async function* readTiles(
  reader: RandomAccessReader,
  dataStart: number,
  t: TensorInfo,
  g: TileGeometry,
  onBand: (bytes: Uint8Array) => void,
): AsyncGenerator<Uint8Array> {
  const [gridRows, gridCols] = gridSize(g);
  const rowBytes = g.cols * g.width;
  const bandAt = (tr: number) => {
    const r0 = tr * g.tileRows, r1 = Math.min(g.rows, r0 + g.tileRows);
    return { r0, r1, bytes: (r1 - r0) * rowBytes, start: dataStart + t.begin + r0 * rowBytes };
  };
  const readBand = (tr: number) => {
    const b = bandAt(tr);
    if (tr >= gridRows || b.bytes > MAX_BAND_BYTES) return null;
    const p = reader.readAt(b.start, b.bytes);
    // Awaited when its turn comes; if packing fails first, its rejection must not go unhandled.
    p.catch(() => {});
    return p;
  };
  // The next band is read while this one's tiles encode.
  let next = readBand(0);
  for (let tr = 0; tr < gridRows; tr++) {
    const { r0, r1, bytes: bandBytes, start: bandStart } = bandAt(tr);
    const band = next ? await next : null;
    next = readBand(tr + 1);
    if (band) {
      onBand(band);
    } else {
      for (let off = 0; off < bandBytes; off += HASH_BLOCK) {
        onBand(await reader.readAt(bandStart + off, Math.min(HASH_BLOCK, bandBytes - off)));
      }
    }
    const bandRect = { r0, r1, c0: 0, c1: g.cols };
    for (let tc = 0; tc < gridCols; tc++) {
      const index = tr * gridCols + tc;
      const rect = tileRect(g, index);
      const tileWidthBytes = (rect.c1 - rect.c0) * g.width;
      if (band && rect.c0 === 0 && rect.c1 === g.cols) {
        yield band;
        continue;
      }
      const tile = new Uint8Array((rect.r1 - rect.r0) * tileWidthBytes);
      if (band) {
        copyTileRegion(g, index, tile, bandRect, band, true);
      } else {
        for (let r = rect.r0; r < rect.r1; r++) {
          const row = await reader.readAt(
            dataStart + t.begin + r * rowBytes + rect.c0 * g.width,
            tileWidthBytes,
          );
          tile.set(row, (r - rect.r0) * tileWidthBytes);
        }
      }
      yield tile;
    }
  }
}

/**
 * The packed INT4 layout for a tensor whose name and shape suggest one, if its first tile codes
 * smaller that way, else one plane per byte (docs/FORMAT.md, "Packed INT4"). GPTQ `qweight` tiles
 * code 2-7% smaller packed in `best` (their nibbles share one adaptive model and the columns' zero
 * points); a tensor that only bears the name keeps its byte planes.
 */
function packedIfSmaller(
  raw: Uint8Array,
  dtype: TensorInfo["dtype"],
  options: EncodeOptions,
): PlaneLayout {
  const bytes = planeLayout(dtype), packed = planeLayout(dtype, "int4");
  const byPlanes = encodeChunk(raw, bytes, options).length;
  return encodeChunk(raw, packed, options).length < byPlanes ? packed : bytes;
}
