/**
 * Constants and the fixed-size head of a `.tsr` container (docs/FORMAT.md, "Head").
 * @module
 */
import { ContainerError } from "./errors.ts";

/** First 8 bytes of every container: a non-ASCII byte, "TSR", CR LF, EOF, LF (as PNG does). */
export const MAGIC = Uint8Array.of(0x89, 0x54, 0x53, 0x52, 0x0d, 0x0a, 0x1a, 0x0a);
/** The format version this code writes. */
export const FORMAT_VERSION = 3;
/**
 * The versions it reads (docs/FORMAT.md, "Versioning"). Version 2 added the Huffman plane codec and
 * the limit on a chunk's raw length; version 3 adds what the history there lists. Older containers
 * are read by the same rules.
 */
export const READ_VERSIONS: readonly number[] = [1, 2, 3];
/** Size of the head at offset 0. */
export const HEAD_BYTES = 64;
/** Default alignment of chunk offsets in `fast` mode: cache lines. */
export const DEFAULT_ALIGNMENT = 64;
/**
 * Default alignment in `best` mode: none. Padding to 64 bytes cost 0.4-0.8% of the container on
 * many-tensor files (ppocrv4.e4m3: 28 KB of 3.39 MB, one 64-byte slot per 1-byte scalar), which
 * whole-file compressors do not pay; decoding reads chunks from any offset.
 */
export const BEST_ALIGNMENT = 1;
/** Smallest alignment of a version 3 container (versions 1 and 2: {@link MIN_ALIGNMENT_V2}). */
export const MIN_ALIGNMENT = 1;
/** Smallest alignment of a version 1 or 2 container. */
export const MIN_ALIGNMENT_V2 = 64;
/** Largest alignment a writer may choose. */
export const MAX_ALIGNMENT = 4096;
/** Default raw bytes per chunk. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
/** Largest chunk raw length a container may declare (docs/FORMAT.md, "Limits"). */
export const MAX_CHUNK_RAW = 1 << 28;
/** Largest `chunkBytes` the writer accepts: its tiles stay well under {@link MAX_CHUNK_RAW}. */
export const MAX_CHUNK_BYTES = 1 << 26;
/** Largest index a reader accepts, so a hostile head cannot make it allocate without bound. */
export const MAX_INDEX_BYTES = 1 << 30;

/** The decoded head. */
export interface Head {
  /** Format version. */
  readonly version: number;
  /** How the index is stored: 0 plain, 3 one Zstandard frame (plane codec ids). */
  readonly indexCodec: number;
  /** Byte offset of the stored index. */
  readonly indexOffset: number;
  /** Byte length of the stored index. */
  readonly indexLength: number;
  /** Byte length of the index once decompressed. */
  readonly indexRawLength: number;
  /** SHA-256 of the stored index bytes. */
  readonly indexSha256: Uint8Array;
}

/** Index codec: plain UTF-8 JSON. */
export const INDEX_PLAIN = 0;
/** Index codec: UTF-8 JSON in one Zstandard frame. */
export const INDEX_ZSTD = 3;

/** Serialises a head. */
export function encodeHead(h: Omit<Head, "version">): Uint8Array {
  const out = new Uint8Array(HEAD_BYTES);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint16(12, h.indexCodec, true);
  view.setBigUint64(16, BigInt(h.indexOffset), true);
  view.setUint32(24, h.indexLength, true);
  view.setUint32(28, h.indexRawLength, true);
  out.set(h.indexSha256, 32);
  return out;
}

/** Parses and checks a head read from a file of `fileSize` bytes. */
export function decodeHead(bytes: Uint8Array, fileSize: number): Head {
  if (bytes.length < HEAD_BYTES || fileSize < HEAD_BYTES) {
    throw new ContainerError(
      "truncated",
      `container is ${fileSize} bytes, the head alone is ${HEAD_BYTES}`,
    );
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) {
      throw new ContainerError("bad_magic", "not a Tessera container: magic bytes differ");
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (!READ_VERSIONS.includes(version)) {
    throw new ContainerError(
      "unsupported_version",
      `container format version ${version}; this reader implements versions ${
        READ_VERSIONS.join(", ")
      }`,
    );
  }
  const indexCodec = view.getUint16(12, true);
  if (indexCodec !== INDEX_PLAIN && indexCodec !== INDEX_ZSTD) {
    throw new ContainerError(
      "index_invalid",
      `index codec ${indexCodec} is not 0 (plain) or 3 (zstd)`,
    );
  }
  if (view.getUint16(14, true) !== 0) {
    throw new ContainerError("index_invalid", "reserved head bytes 14-15 are not zero");
  }
  const offset = view.getBigUint64(16, true);
  const length = view.getUint32(24, true), rawLength = view.getUint32(28, true);
  if (offset < BigInt(HEAD_BYTES) || offset + BigInt(length) > BigInt(fileSize)) {
    throw new ContainerError(
      "truncated",
      `index at ${offset}+${length} lies outside the ${fileSize}-byte file`,
    );
  }
  if (rawLength > MAX_INDEX_BYTES || (indexCodec === INDEX_PLAIN && rawLength !== length)) {
    throw new ContainerError(
      "index_invalid",
      `index raw length ${rawLength} is invalid for stored length ${length}`,
    );
  }
  return {
    version,
    indexCodec,
    indexOffset: Number(offset),
    indexLength: length,
    indexRawLength: rawLength,
    indexSha256: bytes.slice(32, 64),
  };
}

/** Rounds `offset` up to a multiple of `alignment`. */
export function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}
