/**
 * The representations the server sends from a leased container: a decoded tensor, a tile, a layer
 * as a safetensors file, the original file, and the container itself. Each reads any byte range
 * by decoding only the tile rows that hold it.
 * @module
 */
import { createHash } from "node:crypto";
import { assemble, type BlockExecutor } from "../container/assemble.ts";
import type { Container } from "../container/open.ts";
import { originalPieces, readOriginalHeader } from "../container/read.ts";
import type { TensorEntry } from "../container/index_schema.ts";
import {
  bodyLength,
  type Piece,
  planBlocks,
  rectPiece,
  slicePieces,
  tensorPiece,
} from "../container/plan.ts";
import type { Representation } from "../http/representation.ts";
import type { ContainerLease } from "../store/container_leases.ts";
import { cachedRead } from "./block_cache.ts";
import type { ChunkCache } from "./chunk_cache.ts";
import type { Selection } from "./selection.ts";

/** `application/octet-stream`. */
export const OCTET = "application/octet-stream";

const sha256Hex = (text: string) => createHash("sha256").update(text).digest("hex");

/** How the server reads: the decode pool, the cache of assembled blocks, and the read-ahead. */
export interface ReadPipeline {
  /** Runs blocks: the decode pool. */
  readonly executor: BlockExecutor;
  /** Assembled blocks of whole-file downloads. */
  readonly cache: ChunkCache;
  /** Output bytes decoded ahead of the client. */
  readonly aheadBytes: number;
}

/**
 * A representation made of `pieces` of the leased container: any byte range is planned (only the
 * tile rows, and at the edges the tiles, that hold it) and assembled on the decode pool. Releases
 * the lease when done.
 */
function piecesRepresentation(
  lease: ContainerLease,
  pipe: ReadPipeline,
  pieces: readonly Piece[],
  fields: Omit<Representation, "size" | "read" | "release">,
): Representation {
  return {
    ...fields,
    size: bodyLength(pieces),
    read(start, end, signal) {
      return assemble(lease.container, planBlocks(slicePieces(pieces, start, end)), {
        executor: pipe.executor,
        aheadBytes: pipe.aheadBytes,
        signal,
      });
    },
    release: () => lease.release(),
  };
}

/** Headers describing a tensor or tile. */
function tensorHeaders(dtype: string, shape: readonly number[]): Record<string, string> {
  return { "X-Tessera-Dtype": dtype, "X-Tessera-Shape": shape.join(",") };
}

/**
 * One tensor, decoded: its raw bytes as in the original file. ETag and Repr-Digest are the
 * tensor's SHA-256 from the index.
 *
 * @example
 * ```ts
 * await sendRepresentation(req, tensorRepresentation(lease, pipe, t));
 * ```
 */
export function tensorRepresentation(
  lease: ContainerLease,
  pipe: ReadPipeline,
  t: TensorEntry,
): Representation {
  return piecesRepresentation(lease, pipe, [tensorPiece(t)], {
    contentType: OCTET,
    etag: `"${t.sha256}"`,
    sha256: t.sha256,
    headers: { ...tensorHeaders(t.dtype, t.shape), "X-Tessera-Tensor": encodeURIComponent(t.name) },
  });
}

/** A tile of a tensor, row-major. Its ETag hashes the tensor's SHA-256 with the selection. */
export function tileRepresentation(
  lease: ContainerLease,
  pipe: ReadPipeline,
  t: TensorEntry,
  sel: Selection,
): Representation {
  return piecesRepresentation(lease, pipe, sel.rects.map((r) => rectPiece(t, r)), {
    contentType: OCTET,
    etag: `"${sha256Hex(`tile\0${t.sha256}\0${sel.canonical}`)}"`,
    headers: {
      ...tensorHeaders(t.dtype, sel.shape),
      "X-Tessera-Tensor": encodeURIComponent(t.name),
      "X-Tessera-Selection": sel.canonical,
    },
  });
}

// The pieces of each open container's original file, made once: a request had built them anew (a
// copy of the header, 147 KB for human-fp32, and a piece per tensor), which the soak measured as
// a tenth of the server's time in garbage collection.
const originals = new WeakMap<Container, readonly Piece[]>();

/**
 * The original safetensors file, byte-identical. ETag and Repr-Digest are the file's SHA-256.
 *
 * The original header was read and checked when the container was opened. When its stored bytes
 * are damaged, only reads that touch the file's first `8 + N` bytes fail (with the reason the open
 * recorded); a range inside tensor data is served as usual.
 */
export function originalRepresentation(
  lease: ContainerLease,
  pipe: ReadPipeline,
  headers: Record<string, string> = {},
): Representation {
  const c = lease.container, index = c.index;
  const header = c.originalHeader;
  const headerEnd = 8 + index.source.header.length;
  let pieces = originals.get(c);
  if (!pieces) {
    // Without the header, a placeholder of its length keeps every later offset where it belongs;
    // no read that reaches it gets this far.
    pieces = originalPieces(c, header ?? new Uint8Array(index.source.header.length));
    originals.set(c, pieces);
  }
  const rep = piecesRepresentation(lease, pipe, pieces, {
    contentType: OCTET,
    etag: `"${index.source.sha256}"`,
    sha256: index.source.sha256,
    headers,
  });
  const read: Representation["read"] = header ? rep.read : async function* (start, end, signal) {
    if (start < headerEnd) await readOriginalHeader(c); // rejects: the header is damaged
    yield* rep.read(start, end, signal);
  };
  // Whole-file downloads repeat; assembled blocks save decoding every time. A file larger than
  // half the cache is not cached: reading it in order through a least-recently-used cache evicts
  // every block before it is asked for again, and measured slower than decoding (126 against 178
  // MB/s for a 338 MB model and a 256 MiB cache).
  if (rep.size > pipe.cache.figures().budget / 2) return { ...rep, read };
  return { ...rep, read: cachedRead(read, pipe.cache, `${lease.identity}\0file`, rep.size) };
}

/**
 * The safetensors header of a file holding `tensors` (in that order) and `metadata`, padded with
 * spaces so the data section starts at a multiple of 8, as the format recommends.
 */
export function safetensorsHeader(
  tensors: readonly TensorEntry[],
  metadata: Record<string, string> | null,
): Uint8Array {
  const obj: Record<string, unknown> = {};
  if (metadata) obj.__metadata__ = metadata;
  let at = 0;
  for (const t of tensors) {
    const n = t.offsets[1] - t.offsets[0];
    obj[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + n] };
    at += n;
  }
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

/** The tensors of layer `key`, as a safetensors file of their own. */
export function layerRepresentation(
  lease: ContainerLease,
  pipe: ReadPipeline,
  key: string,
  tensors: readonly TensorEntry[],
): Representation {
  const index = lease.container.index;
  const head = safetensorsHeader(tensors, index.metadata);
  return piecesRepresentation(
    lease,
    pipe,
    [{ kind: "bytes", bytes: head }, ...tensors.map(tensorPiece)],
    {
      contentType: OCTET,
      etag: `"${sha256Hex(`layer\0${index.source.sha256}\0${key}`)}"`,
      headers: { "X-Tessera-Layer": encodeURIComponent(key) },
    },
  );
}

/** Bytes read straight from the container file. */
const CONTAINER_READ = 1 << 20;

/** The container file itself. ETag and Repr-Digest are its SHA-256. */
export function containerRepresentation(
  lease: ContainerLease,
  sha256: string,
  headers: Record<string, string> = {},
): Representation {
  const reader = lease.container.source;
  return {
    size: reader.size,
    contentType: "application/vnd.tessera.container",
    etag: `"${sha256}"`,
    sha256,
    headers,
    async *read(start, end, signal) {
      for (let at = start; at < end && !signal.aborted; at += CONTAINER_READ) {
        yield await reader.readAt(at, Math.min(CONTAINER_READ, end - at), signal);
      }
    },
    release: () => lease.release(),
  };
}
