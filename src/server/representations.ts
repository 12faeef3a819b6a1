/**
 * The representations the server sends from a leased container: a decoded tensor, a tile, a layer
 * as a safetensors file, the original file, and the container itself; each of the first four also
 * under a variant (dequantised to the tensor's dtype, or its raw payloads), and a variant's whole
 * file. Each reads any byte range by decoding only the tile rows that hold it.
 * @module
 */
import { createHash } from "node:crypto";
import { assemble, type BlockExecutor } from "../container/assemble.ts";
import type { Container } from "../container/open.ts";
import { originalPieces, readOriginalHeader } from "../container/read.ts";
import { losslessOf, type TensorEntry } from "../container/index_schema.ts";
import { ContainerError } from "../container/errors.ts";
import {
  bodyLength,
  payloadPiece,
  type Piece,
  pieceLength,
  planBlocks,
  rectPiece,
  slicePieces,
  variantTensorPiece,
} from "../container/plan.ts";
import { chunksForRegion } from "../../codec/variants/dequantise.ts";
import { type LossyEncoding, variantLayout } from "../../codec/variants/encoding.ts";
import { lossyEncodingOf } from "../container/variant_index.ts";
import { variantEntry } from "../container/variant_read.ts";
import type { BodyHooks, Representation } from "../http/representation.ts";
import type { ContainerLease } from "../store/container_leases.ts";
import { sharedCopy } from "../http/shared_body.ts";
import { BLOCK_BYTES, cachedPrefix, cachedRead } from "./block_cache.ts";
import type { ChunkCache } from "./chunk_cache.ts";
import type { DecodePool } from "../threads/decode_pool.ts";
import type { Selection } from "./selection.ts";
import { type NativeBodies, nativeBody } from "./native_body.ts";

/** `application/octet-stream`. */
export const OCTET = "application/octet-stream";

const sha256Hex = (text: string) => createHash("sha256").update(text).digest("hex");

/** How the server reads: the decode pool, the cache of assembled blocks, and the read-ahead. */
export interface ReadPipeline {
  /**
   * Runs blocks: the decode pool. A body is run through its `servingFrom(source)`, when it has
   * one: outputs of exactly the bytes sent, and for a local file the pool's threads read each
   * block's chunks there themselves, so this thread reads nothing.
   */
  readonly executor: BlockExecutor & Partial<Pick<DecodePool, "servingFrom">>;
  /** Assembled blocks of whole-file downloads. */
  readonly cache: ChunkCache;
  /** Output bytes decoded ahead of the client. */
  readonly aheadBytes: number;
  /** Large bodies of original files produced by native threads, when given (native_body.ts). */
  readonly native?: NativeBodies;
}

/**
 * Bodies of at least this many bytes go native, when they can: below it the socket and threads cost
 * more than they save.
 */
export const NATIVE_BODY_BYTES = 16 << 20;

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
  cacheAs?: string,
  known?: { readonly size: number },
): Representation {
  // A variant-only container cannot give a tensor's original bytes: refused before any byte.
  // (`known` pieces were checked when they were made.)
  if (!known) { for (const p of pieces) if (p.kind === "rect" && !p.variant) losslessOf(p.tensor); }
  const size = known?.size ?? bodyLength(pieces);
  const executor = pipe.executor.servingFrom?.(lease.container.source) ?? pipe.executor;
  const read = (start: number, end: number, signal: AbortSignal) =>
    assemble(lease.container, planBlocks(slicePieces(pieces, start, end)), {
      executor,
      aheadBytes: pipe.aheadBytes,
      signal,
    });
  const release = () => lease.release();
  if (cacheAs === undefined || size > SMALL_BODY_BYTES || size === 0) {
    return { ...fields, size, read, release };
  }
  const key = `${lease.identity}\0${cacheAs}`;
  const held = pipe.cache.get(key);
  if (held) {
    return {
      ...fields,
      size,
      shared: held,
      async *read(start, end) {
        yield held.subarray(start, end);
      },
      release,
    };
  }
  return {
    ...fields,
    size,
    // A whole read is kept: it was verified as it was decoded, like every byte assembled.
    async *read(start, end, signal) {
      if (start !== 0 || end !== size) return yield* read(start, end, signal);
      const parts: Uint8Array[] = [];
      for await (const part of read(start, end, signal)) parts.push(part);
      const whole = new Uint8Array(size);
      let at = 0;
      for (const part of parts) whole.set(part, at), at += part.length;
      const own = await sharedCopy(whole);
      pipe.cache.set(key, own);
      yield own;
    },
    release,
  };
}

/**
 * Tiles and tensors up to this size are kept whole in the cache once read, and later answered
 * from memory without a copy: under the soak's mix (64 connections) a tile cost about 0.8 ms of
 * the server (0.5 ms of it decoding the chunks that hold it on a worker) and a tensor 0.25 ms.
 */
export const SMALL_BODY_BYTES = 256 << 10;

/** Headers describing a tensor or tile. */
function tensorHeaders(dtype: string, shape: readonly number[]): Record<string, string> {
  return { "X-Tessera-Dtype": dtype, "X-Tessera-Shape": shape.join(",") };
}

/**
 * A variant chosen for a response: its name, and the lossy encoding of the tensor in it (null
 * when the variant keeps the tensor exact, which is then served from its lossless bytes).
 */
export interface VariantChoice {
  /** The variant's name. */
  readonly name: string;
  /** The tensor's lossy encoding in it; null: exact. */
  readonly encoding: LossyEncoding | null;
}

/**
 * Variant `name` of `t`: its lossy encoding, or exact when the variant (or the container) keeps
 * it lossless. Whether the revision holds the variant at all is the caller's check.
 */
export function chooseVariant(t: TensorEntry, name: string): VariantChoice {
  return { name, encoding: lossyEncodingOf(t, name) };
}

/** The SHA-256 of `t`'s bytes under `v` (its lossless bytes' without a variant). */
function digestOf(t: TensorEntry, v: VariantChoice | undefined): string {
  return v?.encoding ? v.encoding.sha256 : t.sha256;
}

/** Headers naming the variant served, and how it stores the tensor. */
function variantHeaders(v: VariantChoice | undefined): Record<string, string> {
  if (!v) return {};
  return { "X-Tessera-Variant": v.name, "X-Tessera-Variant-Kind": v.encoding?.kind ?? "exact" };
}

/**
 * One tensor, decoded: its raw bytes as in the original file, or under variant `v` dequantised to
 * its dtype. ETag and Repr-Digest are the SHA-256 of those bytes, from the index.
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
  v?: VariantChoice,
): Representation {
  const digest = digestOf(t, v);
  return piecesRepresentation(lease, pipe, [variantTensorPiece(t, v?.encoding ?? null)], {
    contentType: OCTET,
    etag: `"${digest}"`,
    sha256: digest,
    headers: {
      ...tensorHeaders(t.dtype, t.shape),
      "X-Tessera-Tensor": encodeURIComponent(t.name),
      ...variantHeaders(v),
    },
  }, `tensor\0${digest}`);
}

/**
 * A tile of a tensor, row-major, under variant `v` when given. Its ETag hashes the SHA-256 of the
 * tensor's bytes (under the variant) with the selection.
 */
export function tileRepresentation(
  lease: ContainerLease,
  pipe: ReadPipeline,
  t: TensorEntry,
  sel: Selection,
  v?: VariantChoice,
): Representation {
  const pieces = sel.rects.map((r) => rectPiece(t, r, v?.encoding));
  // Under the shape and dtype too: a tensor of the same bytes in another shape (another revision
  // at the same URL, say) tiles differently, so neither its entity tag nor its cache entry may match.
  const what = `tile\0${digestOf(t, v)}\0${sel.canonical}\0${t.dtype}\0${t.shape.join(",")}`;
  return piecesRepresentation(lease, pipe, pieces, {
    contentType: OCTET,
    etag: `"${sha256Hex(what)}"`,
    headers: {
      ...tensorHeaders(t.dtype, sel.shape),
      "X-Tessera-Tensor": encodeURIComponent(t.name),
      "X-Tessera-Selection": sel.canonical,
      ...variantHeaders(v),
    },
  }, what);
}

/**
 * Chunk indices with their payload lengths, as runs: `0-62:262144,63:131072` (indices 0 to 62 of
 * 262144 bytes each, then 63 of 131072).
 */
export function chunkRuns(e: LossyEncoding, chunks: readonly number[]): string {
  const out: string[] = [];
  for (let k = 0; k < chunks.length;) {
    const first = chunks[k], bytes = e.chunks[first][2];
    let last = first;
    while (
      k + 1 < chunks.length && chunks[k + 1] === last + 1 && e.chunks[chunks[k + 1]][2] === bytes
    ) last = chunks[++k];
    out.push(`${first === last ? first : `${first}-${last}`}:${bytes}`);
    k++;
  }
  return out.join(",");
}

/** The layout of `e` as the raw headers and layer metadata give it: kind, view, tile, params. */
export function layoutJson(e: LossyEncoding): string {
  return JSON.stringify(variantLayout(e));
}

/**
 * A tensor's raw bytes under variant `v`: the payloads of its chunks (all of them, or the ones
 * `sel`'s rectangles need), back to back, in the variant's own layout (docs/FORMAT.md, "Variant
 * chunks"); `X-Tessera-Variant-Layout` gives the layout and `X-Tessera-Variant-Chunks` the chunks
 * sent with their payload lengths. A tensor the variant keeps exact is its own bytes.
 */
export function rawRepresentation(
  lease: ContainerLease,
  pipe: ReadPipeline,
  t: TensorEntry,
  v: VariantChoice,
  sel: Selection | null,
): Representation {
  const e = v.encoding;
  if (!e) {
    return sel
      ? tileRepresentation(lease, pipe, t, sel, v)
      : tensorRepresentation(lease, pipe, t, v);
  }
  const chunks = sel === null
    ? e.chunks.map((_, i) => i)
    : [...new Set(sel.rects.flatMap((r) => chunksForRegion(e, t.shape, r)))].sort((a, b) => a - b);
  const runs = chunkRuns(e, chunks);
  return piecesRepresentation(lease, pipe, [payloadPiece(t, e, chunks)], {
    contentType: OCTET,
    etag: `"${sha256Hex(`raw\0${e.sha256}\0${runs}`)}"`,
    headers: {
      "X-Tessera-Tensor": encodeURIComponent(t.name),
      "X-Tessera-Dtype": t.dtype,
      "X-Tessera-Shape": t.shape.join(","),
      ...variantHeaders(v),
      "X-Tessera-Variant-Layout": layoutJson(e),
      "X-Tessera-Variant-Chunks": runs,
      ...(sel ? { "X-Tessera-Selection": sel.canonical } : {}),
    },
  });
}

// The pieces of each open container's original file, made once: a request had built them anew (a
// copy of the header, 147 KB for human-fp32, and a piece per tensor), which the soak measured as
// a tenth of the server's time in garbage collection.
// Keyed by variant name, "" for the original. With them their length, and whether every tensor
// has its lossless bytes: both took a pass over every tensor (1,184 for human-fp32) per request.
const originals = new WeakMap<Container, Map<string, { pieces: readonly Piece[]; size: number }>>();
const allLossless = new WeakMap<Container, boolean>();

/**
 * The original safetensors file, byte-identical; or with `variant`, that variant's file (the same
 * header, every tensor as the variant serves it). ETag and Repr-Digest are the file's SHA-256.
 *
 * The original header was read and checked when the container was opened. When its stored bytes
 * are damaged, only reads that touch the file's first `8 + N` bytes fail (with the reason the open
 * recorded); a range inside tensor data is served as usual.
 */
export function originalRepresentation(
  lease: ContainerLease,
  pipe: ReadPipeline,
  headers: Record<string, string> = {},
  variant?: string,
): Representation {
  const c = lease.container, index = c.index;
  // A file that does not hold the variant is served as it is under the variant's revision.
  if (variant && !index.variants?.some((v) => v.name === variant)) variant = undefined;
  let lossless = allLossless.get(c);
  if (lossless === undefined) {
    lossless = index.tensors.every((t) => t.encodings.some((e) => e.kind === "lossless"));
    allLossless.set(c, lossless);
  }
  if (!variant && !lossless) {
    const held = (index.variants ?? []).map((v) => v.name).join(", ");
    throw new ContainerError(
      "variant_only",
      `the container holds only variants (${held}) of this file and cannot rebuild it; ask ` +
        "for a variant (revision <revision>@<variant>, or ?variant=)",
    );
  }
  const sha256 = variant ? variantEntry(c, variant).sha256 : index.source.sha256;
  const header = c.originalHeader;
  const headerEnd = 8 + index.source.header.length;
  let byVariant = originals.get(c);
  if (!byVariant) originals.set(c, byVariant = new Map());
  let made = byVariant.get(variant ?? "");
  if (!made) {
    // Without the header, a placeholder of its length keeps every later offset where it belongs;
    // no read that reaches it gets this far.
    const served = variant;
    const pieces = originalPieces(
      c,
      header ?? new Uint8Array(index.source.header.length),
      served ? (t) => lossyEncodingOf(t, served) : undefined,
    );
    for (const p of pieces) if (p.kind === "rect" && !p.variant) losslessOf(p.tensor);
    made = { pieces, size: bodyLength(pieces) };
    byVariant.set(variant ?? "", made);
  }
  const rep = piecesRepresentation(
    lease,
    pipe,
    made.pieces,
    {
      contentType: OCTET,
      etag: `"${sha256}"`,
      sha256,
      headers: variant ? { ...headers, "X-Tessera-Variant": variant } : headers,
    },
    undefined,
    made,
  );
  const read: Representation["read"] = header ? rep.read : async function* (start, end, signal) {
    if (start < headerEnd) await readOriginalHeader(c); // rejects: the header is damaged
    yield* rep.read(start, end, signal);
  };
  // Whole-file downloads repeat; assembled blocks save decoding every time. Of a file larger than
  // half the cache only its first half-cache of blocks is kept: caching all of it, reading it in
  // order through a least-recently-used cache evicted every block before it was asked for again,
  // and measured slower than decoding (126 against 178 MB/s for a 338 MB model and a 256 MiB
  // cache); with none of it kept, a warm server decoded the whole file again on every download.
  const limit = pipe.cache.figures().budget / 2;
  const key = `${lease.identity}\0file${variant ? `\0${variant}` : ""}`;
  const cached = limit >= BLOCK_BYTES;
  const native = pipe.native;
  // A large body of the original file goes native: the blocks the cache holds of it first (when
  // it holds every one that it keeps; else the body is read the way that fills the cache), then
  // the rest produced by native threads.
  const nativeRead = native && header && !variant
    ? (start: number, end: number, hooks: BodyHooks) => {
      if (end - start < NATIVE_BODY_BYTES) return Promise.resolve(null);
      const prefix = cached
        ? cachedPrefix(pipe.cache, key, rep.size, limit, start, end)
        : { parts: [], end: start };
      if (!prefix) return Promise.resolve(null);
      return nativeBody(
        c,
        {
          length: end - start,
          prefix: prefix.parts,
          blocks: () => planBlocks(slicePieces(made.pieces, prefix.end, end)),
        },
        native,
        hooks,
      );
    }
    : undefined;
  const body = nativeRead ? { nativeBody: nativeRead } : {};
  if (!cached) return { ...rep, read, ...body };
  return { ...rep, read: cachedRead(read, pipe.cache, key, rep.size, limit), ...body };
}

/** A tensor of a safetensors header being written. */
export interface HeaderTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Its bytes in the data section. */
  readonly bytes: number;
}

/**
 * The safetensors header of a file holding `tensors` (in that order) and `metadata`, padded with
 * spaces so the data section starts at a multiple of 8, as the format recommends.
 */
export function safetensorsHeader(
  tensors: readonly (TensorEntry | HeaderTensor)[],
  metadata: Record<string, string> | null,
): Uint8Array {
  const obj: Record<string, unknown> = {};
  if (metadata) obj.__metadata__ = metadata;
  let at = 0;
  for (const t of tensors) {
    const n = "offsets" in t ? t.offsets[1] - t.offsets[0] : t.bytes;
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

/** What a layer's file holds of one tensor: its bytes, or under a variant, dequantised or raw. */
export interface LayerPart {
  /** Its header entry. */
  readonly entry: HeaderTensor;
  /** Its bytes. */
  readonly piece: Piece;
}

/**
 * Tensor `t` as a layer file holds it: as in the original; under variant `v` dequantised; or with
 * `raw`, a tensor of the variant stored lossy becomes its payloads, a `U8` vector.
 */
export function layerPart(t: TensorEntry, v?: VariantChoice, raw = false): LayerPart {
  const e = v?.encoding ?? null;
  if (raw && e) {
    const piece = payloadPiece(t, e), bytes = pieceLength(piece);
    return { entry: { name: t.name, dtype: "U8", shape: [bytes], bytes }, piece };
  }
  const bytes = t.offsets[1] - t.offsets[0];
  return {
    entry: { name: t.name, dtype: t.dtype, shape: t.shape, bytes },
    piece: variantTensorPiece(t, e),
  };
}

/**
 * The `__metadata__` of a layer file under variant `v`: the original's, plus `tessera.variant`
 * (its name) and, for a raw file, `tessera.layouts`: JSON of each payload tensor's dtype, shape,
 * layout and chunk payload lengths, which is what splitting the payloads needs.
 */
export function layerMetadata(
  metadata: Record<string, string> | null,
  variant: string | undefined,
  raw: readonly { t: TensorEntry; e: LossyEncoding | null }[] | null,
): Record<string, string> | null {
  if (!variant) return metadata;
  const out: Record<string, string> = { ...metadata, "tessera.variant": variant };
  if (raw) {
    const layouts: Record<string, unknown> = {};
    for (const { t, e } of raw) {
      if (!e) continue;
      layouts[t.name] = {
        dtype: t.dtype,
        shape: t.shape,
        ...variantLayout(e),
        chunks: e.chunks.map((ch) => ch[2]),
      };
    }
    out["tessera.layouts"] = JSON.stringify(layouts);
  }
  return out;
}

/**
 * The tensors of layer `key`, as a safetensors file of their own; under `variant` (a variant of
 * the container) dequantised, or with `raw` as its payloads (see {@link layerPart}).
 */
export function layerRepresentation(
  lease: ContainerLease,
  pipe: ReadPipeline,
  key: string,
  tensors: readonly TensorEntry[],
  variant?: string,
  raw = false,
): Representation {
  const index = lease.container.index;
  const choices = tensors.map((t) => variant ? chooseVariant(t, variant) : undefined);
  const parts = tensors.map((t, i) => layerPart(t, choices[i], raw));
  const metadata = layerMetadata(
    index.metadata,
    variant,
    raw ? tensors.map((t, i) => ({ t, e: choices[i]?.encoding ?? null })) : null,
  );
  const head = safetensorsHeader(parts.map((p) => p.entry), metadata);
  const what = variant ? `\0${variant}${raw ? "\0raw" : ""}` : "";
  return piecesRepresentation(
    lease,
    pipe,
    [{ kind: "bytes", bytes: head }, ...parts.map((p) => p.piece)],
    {
      contentType: OCTET,
      etag: `"${sha256Hex(`layer\0${index.source.sha256}\0${key}${what}`)}"`,
      headers: {
        "X-Tessera-Layer": encodeURIComponent(key),
        ...(variant ? { "X-Tessera-Variant": variant } : {}),
      },
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
      // A source whose bytes arrive piecewise (an edge's) passes each on as it has it.
      if (reader.readPieces) return yield* reader.readPieces(start, end - start, signal);
      for (let at = start; at < end && !signal.aborted; at += CONTAINER_READ) {
        yield await reader.readAt(at, Math.min(CONTAINER_READ, end - at), signal);
      }
    },
    release: () => lease.release(),
  };
}
