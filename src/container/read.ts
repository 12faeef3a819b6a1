/**
 * Reads a `.tsr` container: the head and index in two reads, then verified chunks, tensor regions
 * and the original file as streams.
 * @module
 */
import { type DecodeOptions, scratchBytes } from "../../codec/chunk_decode.ts";
import { copyTileRegion, type Rect, type TileGeometry, tilesCovering } from "../../codec/tiles.ts";
import { openFileReader, type RandomAccessReader } from "../io/random_access.ts";
import { sha256Bytes, sha256Hex } from "../hash/sha256.ts";
import { nativeZstdDecompress } from "../codec_native/zstd.ts";
import { decodeChunkFast } from "../codec_native/decode_chunk.ts";
import { chunkFailure, ContainerError } from "./errors.ts";
import { decodeHead, HEAD_BYTES } from "./format.ts";
import {
  geometryOf,
  type Index,
  losslessOf,
  parseIndex,
  type TensorEntry,
} from "./index_schema.ts";

/** An open container: its validated index and the reader behind it. */
export interface Container {
  /** The validated index. */
  readonly index: Index;
  /** Tensors by name. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  /** Where chunk bytes come from. */
  readonly reader: RandomAccessReader;
  /**
   * Buffers reused by every TypeScript decode, grown to the largest chunk decoded so far (not to
   * what the index claims); decoding is synchronous, so reads never share them.
   */
  readonly scratch: { planes: Uint8Array; slots: Int32Array; words: Uint16Array };
}

/** Counters a caller can pass in to see how much work a read did. */
export interface ReadStats {
  /** Raw bytes decoded, whole chunks. */
  decodedBytes: number;
  /** Chunks decoded. */
  chunks: number;
}

/** Options for reads. */
export interface ReadOptions {
  /** Codec options; a native zstd decoder is used by default. */
  readonly decode?: DecodeOptions;
  /** Accumulates work done. */
  readonly stats?: ReadStats;
  /** False to decode with the TypeScript codec only, not the native kernels. */
  readonly native?: boolean;
}

/** Opens and validates the container behind `reader`. */
export async function openContainer(reader: RandomAccessReader): Promise<Container> {
  if (reader.size < HEAD_BYTES) {
    throw new ContainerError(
      "truncated",
      `container is ${reader.size} bytes, the head alone is ${HEAD_BYTES}`,
    );
  }
  const head = decodeHead(await reader.readAt(0, HEAD_BYTES), reader.size);
  const stored = await reader.readAt(head.indexOffset, head.indexLength);
  const digest = sha256Bytes(stored);
  if (!digest.every((b, i) => b === head.indexSha256[i])) {
    throw new ContainerError("index_checksum", "index bytes do not match the SHA-256 in the head");
  }
  const index = parseIndex(
    inflateMeta(stored, head.indexCodec, head.indexRawLength, "index"),
    reader.size,
    head.version,
  );
  return {
    index,
    reader,
    tensors: new Map(index.tensors.map((t) => [t.name, t])),
    scratch: { planes: new Uint8Array(0), slots: new Int32Array(4096), words: new Uint16Array(0) },
  };
}

/** Opens the container file at `path`. The caller closes `container.reader`. */
export async function openContainerFile(path: string): Promise<Container> {
  const reader = await openFileReader(path);
  try {
    return await openContainer(reader);
  } catch (e) {
    reader.close();
    throw e;
  }
}

/** The tensor called `name`, or a `tensor_not_found` error. */
export function tensorOf(c: Container, name: string): TensorEntry {
  const t = c.tensors.get(name);
  if (!t) throw new ContainerError("tensor_not_found", `no tensor named "${name}"`);
  return t;
}

/** Reads, verifies and decodes chunk `i` of tensor `t`. */
export async function readChunk(
  c: Container,
  t: TensorEntry,
  i: number,
  options: ReadOptions = {},
): Promise<Uint8Array> {
  const [offset, storedLength, rawLength] = losslessOf(t).chunks[i];
  const out = new Uint8Array(rawLength);
  decodeStoredChunk(c, t, i, await c.reader.readAt(offset, storedLength), out, options);
  if (options.stats) {
    options.stats.decodedBytes += rawLength;
    options.stats.chunks++;
  }
  return out;
}

/**
 * Decodes `stored`, the stored bytes of chunk `i` of `t`, into `out` and verifies it; failures
 * name the tensor and chunk. The native kernel goes first unless `native` is false or the caller
 * asked for the stored checksum too; the TypeScript decoder redoes whatever it leaves and names
 * any failure.
 */
export function decodeStoredChunk(
  c: Container,
  t: TensorEntry,
  i: number,
  stored: Uint8Array,
  out: Uint8Array,
  options: ReadOptions = {},
): void {
  const lossless = losslessOf(t);
  const [offset, storedLength, rawLength, storedXxh32, rawXxh32] = lossless.chunks[i];
  const s = c.scratch;
  if (s.planes.length < scratchBytes(rawLength)) s.planes = new Uint8Array(scratchBytes(rawLength));
  if (s.words.length < rawLength) s.words = new Uint16Array(rawLength);
  try {
    decodeChunkFast(
      stored,
      { storedLength, rawLength, storedXxh32, rawXxh32 },
      lossless.layout,
      out,
      {
        scratch: c.scratch.planes,
        slots: c.scratch.slots,
        words: c.scratch.words,
        native: options.native,
        ...options.decode,
      },
    );
  } catch (e) {
    throw chunkFailure(t.name, i, offset, e);
  }
}

/** The whole-matrix rectangle of `t`. */
export function fullRect(t: TensorEntry): Rect {
  const g = geometryOf(t);
  return { r0: 0, r1: g.rows, c0: 0, c1: g.cols };
}

/**
 * Streams `rect` of tensor `t` as row-major bytes, one band of tile rows at a time, decoding only
 * the chunks that intersect it.
 */
export async function* streamRegion(
  c: Container,
  t: TensorEntry,
  rect: Rect,
  options: ReadOptions = {},
): AsyncGenerator<Uint8Array> {
  const g = checkRect(t, rect);
  if (rect.r0 === rect.r1 || rect.c0 === rect.c1) return;
  const whole = rect.c0 === 0 && rect.c1 === g.cols;
  for (let r0 = rect.r0; r0 < rect.r1;) {
    const bandEnd = Math.min(rect.r1, (Math.floor(r0 / g.tileRows) + 1) * g.tileRows);
    const band: Rect = { r0, r1: bandEnd, c0: rect.c0, c1: rect.c1 };
    const tiles = tilesCovering(g, band);
    // A full-width band of one full tile is the chunk itself: no copy.
    if (whole && tiles.length === 1 && r0 % g.tileRows === 0 && bandEnd - r0 === g.tileRows) {
      yield await readChunk(c, t, tiles[0], options);
    } else if (whole && tiles.length === 1 && g.tileCols === g.cols) {
      const chunk = await readChunk(c, t, tiles[0], options);
      const rowBytes = g.cols * g.width, skip = (r0 % g.tileRows) * rowBytes;
      yield chunk.subarray(skip, skip + (bandEnd - r0) * rowBytes);
    } else {
      const out = new Uint8Array((bandEnd - r0) * (rect.c1 - rect.c0) * g.width);
      for (const i of tiles) copyTileRegion(g, i, await readChunk(c, t, i, options), band, out);
      yield out;
    }
    r0 = bandEnd;
  }
}

/** The geometry of `t`, once `rect` is known to lie inside it; else a `bad_slice` error. */
export function checkRect(t: TensorEntry, rect: Rect): TileGeometry {
  const g = geometryOf(t);
  const ok = [rect.r0, rect.r1, rect.c0, rect.c1].every(Number.isSafeInteger) &&
    rect.r0 >= 0 && rect.c0 >= 0 && rect.r0 <= rect.r1 && rect.c0 <= rect.c1 &&
    rect.r1 <= g.rows && rect.c1 <= g.cols;
  if (!ok) {
    throw new ContainerError(
      "bad_slice",
      `region rows ${rect.r0}:${rect.r1}, cols ${rect.c0}:${rect.c1} is not within ${g.rows}x${g.cols}`,
    );
  }
  return g;
}

/** Reads `rect` of tensor `t` whole; a whole tensor is also checked against its SHA-256. */
export async function readRegion(
  c: Container,
  t: TensorEntry,
  rect: Rect = fullRect(t),
  options: ReadOptions = {},
): Promise<Uint8Array> {
  const g = checkRect(t, rect);
  const out = new Uint8Array((rect.r1 - rect.r0) * (rect.c1 - rect.c0) * g.width);
  let pos = 0;
  for await (const part of streamRegion(c, t, rect, options)) {
    out.set(part, pos);
    pos += part.length;
  }
  const whole = rect.r0 === 0 && rect.c0 === 0 && rect.r1 === g.rows && rect.c1 === g.cols;
  if (whole && sha256Hex(out) !== t.sha256) {
    throw new ContainerError("digest_mismatch", `tensor "${t.name}" does not match its SHA-256`);
  }
  return out;
}

/** Inflates the stored index or original header (codec 0 plain, 3 zstd) to `rawLength` bytes. */
function inflateMeta(
  stored: Uint8Array,
  codec: number,
  rawLength: number,
  what: string,
): Uint8Array {
  if (codec === 0) return stored;
  try {
    return nativeZstdDecompress(stored, rawLength);
  } catch (e) {
    throw new ContainerError(
      "index_invalid",
      `${what} does not decompress: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** Reads the verbatim original header bytes and checks their SHA-256. */
export async function readOriginalHeader(c: Container): Promise<Uint8Array> {
  const h = c.index.source.header;
  const bytes = inflateMeta(
    await c.reader.readAt(h.offset, h.storedLength),
    h.codec,
    h.length,
    "original header",
  );
  if (sha256Hex(bytes) !== h.sha256) {
    throw new ContainerError(
      "digest_mismatch",
      "stored original header does not match its SHA-256",
    );
  }
  return bytes;
}

/** The 8-byte little-endian header length that starts a safetensors file. */
export function lengthPrefix(headerLength: number): Uint8Array {
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerLength), true);
  return prefix;
}

/** Streams the original safetensors file, byte for byte: length prefix, header, tensor data. */
export async function* streamOriginal(
  c: Container,
  options: ReadOptions = {},
): AsyncGenerator<Uint8Array> {
  // A variant-only container cannot rebuild the original: fail before the first byte.
  for (const t of c.index.tensors) losslessOf(t);
  const header = await readOriginalHeader(c);
  yield lengthPrefix(header.length);
  yield header;
  for (const t of c.index.tensors) yield* streamRegion(c, t, fullRect(t), options);
}
