/**
 * Reads from an open container through the one planner and the one assembler: a tensor, a tile,
 * the original header, or the whole original file. Browser-safe.
 * @module
 */
import { dtypeWidth } from "../../codec/dtype.ts";
import { matrixShape, type Rect } from "../../codec/tiles.ts";
import type { LossyEncoding } from "../../codec/variants/encoding.ts";
import { assemble, type AssembleOptions } from "./assemble.ts";
import { sha256Hex } from "./backends.ts";
import { ContainerError } from "./errors.ts";
import type { TensorEntry } from "./index_schema.ts";
import type { Container } from "./open.ts";
import {
  type Block,
  blockChunks,
  type Piece,
  planBlocks,
  type PlanOptions,
  rectPiece,
  variantTensorPiece,
} from "./plan.ts";

/** Counters a caller can pass in to see how much work a read did. */
export interface ReadStats {
  /** Raw bytes decoded, whole chunks. */
  decodedBytes: number;
  /** Chunks decoded. */
  chunks: number;
}

/** Options for reads: the assembler's, the planner's, and work counters. */
export interface ReadOptions extends AssembleOptions, PlanOptions {
  /** Accumulates the work done. */
  readonly stats?: ReadStats;
  /** Read this lossy encoding of the tensor, dequantised, instead of its lossless bytes. */
  readonly variant?: LossyEncoding | null;
}

/** The tensor called `name`, or a `tensor_not_found` error. */
export function tensorOf(c: Container, name: string): TensorEntry {
  const t = c.tensors.get(name);
  if (!t) throw new ContainerError("tensor_not_found", `no tensor named "${name}"`);
  return t;
}

/** The whole-matrix rectangle of `t`. */
export function fullRect(t: TensorEntry): Rect {
  const [rows, cols] = matrixShape(t.shape);
  return { r0: 0, r1: rows, c0: 0, c1: cols };
}

/** `t`'s matrix and element width, once `rect` is known to lie inside it; else `bad_slice`. */
export function checkRect(
  t: TensorEntry,
  rect: Rect,
): { rows: number; cols: number; width: number } {
  const [rows, cols] = matrixShape(t.shape);
  const ok = [rect.r0, rect.r1, rect.c0, rect.c1].every(Number.isSafeInteger) &&
    rect.r0 >= 0 && rect.c0 >= 0 && rect.r0 <= rect.r1 && rect.c0 <= rect.c1 &&
    rect.r1 <= rows && rect.c1 <= cols;
  if (!ok) {
    throw new ContainerError(
      "bad_slice",
      `region rows ${rect.r0}:${rect.r1}, cols ${rect.c0}:${rect.c1} is not within ${rows}x${cols}`,
    );
  }
  return { rows, cols, width: dtypeWidth(t.dtype) };
}

/** The blocks of `pieces`, counting their work into `stats`. */
export function* countedBlocks(
  pieces: readonly Piece[],
  options: ReadOptions = {},
): Generator<Block> {
  for (const b of planBlocks(pieces, options)) {
    if (options.stats) {
      options.stats.chunks += blockChunks(b);
      options.stats.decodedBytes += b.rawBytes;
    }
    yield b;
  }
}

/**
 * Streams `rect` of tensor `t` as row-major bytes (of `options.variant`, dequantised, when set),
 * decoding only the chunks that intersect it. Every yielded piece is fresh unless
 * `options.recycle` is set.
 */
export function streamRegion(
  c: Container,
  t: TensorEntry,
  rect: Rect,
  options: ReadOptions = {},
): AsyncGenerator<Uint8Array> {
  checkRect(t, rect);
  return assemble(c, countedBlocks([rectPiece(t, rect, options.variant)], options), options);
}

/**
 * Reads `rect` of tensor `t` whole (of `options.variant`, dequantised, when set); a whole tensor
 * is also checked against its SHA-256 (the variant's, for a variant).
 */
export async function readRegion(
  c: Container,
  t: TensorEntry,
  rect: Rect = fullRect(t),
  options: ReadOptions = {},
): Promise<Uint8Array> {
  const g = checkRect(t, rect);
  const out = new Uint8Array((rect.r1 - rect.r0) * (rect.c1 - rect.c0) * g.width);
  let pos = 0;
  for await (const part of streamRegion(c, t, rect, { ...options, recycle: true })) {
    out.set(part, pos);
    pos += part.length;
  }
  const whole = rect.r0 === 0 && rect.c0 === 0 && rect.r1 === g.rows && rect.c1 === g.cols;
  const want = options.variant ? options.variant.sha256 : t.sha256;
  if (whole && sha256Hex(c.backends, out) !== want) {
    const what = options.variant ? ` under variant "${options.variant.name}"` : "";
    throw new ContainerError(
      "digest_mismatch",
      `tensor "${t.name}"${what} does not match its SHA-256`,
    );
  }
  return out;
}

/**
 * The verbatim original header bytes, read and checked when the container was opened; rejects
 * with the reason when the stored header is damaged.
 */
export function readOriginalHeader(c: Container): Promise<Uint8Array> {
  if (c.originalHeader) return Promise.resolve(c.originalHeader);
  return Promise.reject(
    c.headerError ?? new ContainerError("digest_mismatch", "the original header was not read"),
  );
}

/** The 8-byte little-endian header length that starts a safetensors file. */
export function lengthPrefix(headerLength: number): Uint8Array {
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerLength), true);
  return prefix;
}

/**
 * The original file as a body: the length prefix and `header` (the verbatim original header),
 * then every tensor in index order, which is the data-section order. With `variant` (the lossy
 * encoding of each tensor, or null for one the variant keeps exact), a variant's file.
 */
export function originalPieces(
  c: Container,
  header: Uint8Array,
  variant?: (t: TensorEntry) => LossyEncoding | null,
): Piece[] {
  const head = new Uint8Array(8 + header.length);
  head.set(lengthPrefix(header.length));
  head.set(header, 8);
  const tensors = c.index.tensors.map((t) => variantTensorPiece(t, variant?.(t) ?? null));
  return [{ kind: "bytes", bytes: head }, ...tensors];
}

/**
 * Streams the original safetensors file, byte for byte. The caller checks the whole file's
 * SHA-256 if it needs to (`verifyContainer` and `unpack` do).
 */
export async function* streamOriginal(
  c: Container,
  options: ReadOptions = {},
): AsyncGenerator<Uint8Array> {
  const pieces = originalPieces(c, await readOriginalHeader(c));
  yield* assemble(c, countedBlocks(pieces, options), options);
}
