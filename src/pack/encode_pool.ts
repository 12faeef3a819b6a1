/**
 * Chunk encoding on worker threads for `pack`: each chunk is a pure function of its bytes, so
 * chunks encode in parallel and are written in order. Memory stays bounded by the number of
 * chunks in flight.
 * @module
 */
import { encodeChunk, type EncodeOptions, type Mode } from "../../codec/chunk_encode.ts";
import { xxh32 } from "../../codec/xxh32.ts";
import type { Dtype, PlaneLayout } from "../../codec/dtype.ts";
import { createWorkerPool } from "../threads/worker_pool.ts";

/** An encode request as posted to a worker. */
export interface EncodeRequest {
  /** Matches the reply to the request. */
  readonly id: number;
  /** The chunk's raw bytes (transferred). */
  readonly raw: Uint8Array;
  /** The tensor's plane layout. */
  readonly layout: PlaneLayout;
  /** The codec trade-off. */
  readonly mode: Mode;
  /** What the encoder may know of the tensor beyond its layout. */
  readonly hints?: EncodeHints;
}

/** The tensor's dtype and tile width, which the adaptive coder's models use (EncodeOptions). */
export interface EncodeHints {
  /** The tensor's dtype. */
  readonly dtype?: Dtype;
  /** The tile's width in elements. */
  readonly tileCols?: number;
}

/** A worker's reply: the stored chunk and its checksums. */
export interface EncodeReply {
  /** Matches the reply to the request. */
  readonly id: number;
  /** The stored chunk (transferred). */
  readonly stored: Uint8Array;
  /** XXH32 of the stored bytes. */
  readonly storedXxh32: number;
  /** XXH32 of the raw bytes. */
  readonly rawXxh32: number;
}

/** An encoded chunk. */
export interface EncodedChunk {
  /** The stored bytes. */
  readonly stored: Uint8Array;
  /** XXH32 of the stored bytes. */
  readonly storedXxh32: number;
  /** XXH32 of the raw bytes. */
  readonly rawXxh32: number;
}

/** Encodes one chunk on this thread, with the checksums its index record needs. */
export function encodeChecked(
  raw: Uint8Array,
  layout: PlaneLayout,
  options: EncodeOptions,
): EncodedChunk {
  const stored = encodeChunk(raw, layout, options);
  return { stored, storedXxh32: xxh32(stored), rawXxh32: xxh32(raw) };
}

/** The pool. */
export interface EncodePool {
  /** Worker count. */
  readonly size: number;
  /** Encodes a copy of `raw`; the caller may reuse `raw` at once. */
  encode(
    raw: Uint8Array,
    layout: PlaneLayout,
    mode: Mode,
    hints?: EncodeHints,
  ): Promise<EncodedChunk>;
  /** Stops the workers; pending encodes reject. */
  close(): void;
}

/**
 * Starts `workers` (at least 1) encode threads.
 *
 * @example
 * ```ts
 * const pool = createEncodePool(4);
 * const { stored } = await pool.encode(raw, planeLayout("BF16"), "fast");
 * pool.close();
 * ```
 */
export function createEncodePool(workers: number): EncodePool {
  const url = new URL("./encode_worker.ts", import.meta.url).href;
  const pool = createWorkerPool<EncodeRequest, EncodeReply>(url, workers, "encode");
  return {
    size: workers,
    async encode(raw, layout, mode, hints = {}) {
      // A copy, transferred: the caller's buffer may be a view into something larger.
      const copy = raw.slice();
      return await pool.request({ raw: copy, layout, mode, hints }, [copy.buffer]);
    },
    close: () => pool.close(),
  };
}
