/**
 * A pool of decode workers, so that one response can decode chunks on several cores and a slow
 * decode does not hold up the event loop. With zero workers chunks decode on the calling thread.
 * @module
 */
import type { ChunkEntry } from "../../codec/chunk_decode.ts";
import type { PlaneLayout } from "../../codec/dtype.ts";
import { CodecError, type CodecErrorKind } from "../../codec/errors.ts";
import { createWorkerPool } from "../threads/worker_pool.ts";
import { decodeRequest } from "./decode_worker.ts";

/**
 * Chunks smaller than this decode on the calling thread: posting a message to a worker and back
 * measured about 25 µs each way, more than decoding 64 KiB costs.
 */
export const INLINE_BYTES = 64 * 1024;

/** A decode request as posted to a worker. */
export interface DecodeRequest {
  /** Matches the reply to the request. */
  readonly id: number;
  /** The stored chunk bytes (transferred). */
  readonly stored: Uint8Array;
  /** The index entry to verify against. */
  readonly entry: ChunkEntry;
  /** The tensor's plane layout. */
  readonly layout: PlaneLayout;
}

/** A worker's reply: raw bytes, or the error, and the time the decode took. */
export type DecodeReply =
  | { readonly id: number; readonly raw: Uint8Array; readonly ms: number }
  | {
    readonly id: number;
    readonly error: { name: string; kind: string; message: string };
    readonly ms: number;
  };

/** The pool. */
export interface DecodePool {
  /** Worker count; 0 means decoding on the calling thread. */
  readonly size: number;
  /** Decodes and verifies `stored`; rejects with a CodecError on corrupt input. */
  decode(stored: Uint8Array, entry: ChunkEntry, layout: PlaneLayout): Promise<Uint8Array>;
  /** Stops the workers; pending decodes reject. */
  close(): void;
}

/** Called after every decode with the raw bytes and seconds it took. */
export type DecodeObserver = (rawBytes: number, seconds: number) => void;

function replyToResult(reply: DecodeReply): Uint8Array {
  if ("raw" in reply) return reply.raw;
  if (reply.error.name === "CodecError") {
    throw new CodecError(reply.error.kind as CodecErrorKind, reply.error.message);
  }
  throw new Error(reply.error.message);
}

/**
 * Starts a pool of `workers` threads (0 for none).
 *
 * @example
 * ```ts
 * const pool = await createDecodePool(2);
 * const raw = await pool.decode(stored, entry, layout);
 * pool.close();
 * ```
 */
export function createDecodePool(
  workers: number,
  observe: DecodeObserver = () => {},
): Promise<DecodePool> {
  let inlineId = 0;
  const decodeHere = (stored: Uint8Array, entry: ChunkEntry, layout: PlaneLayout) => {
    try {
      const reply = decodeRequest({ id: inlineId++, stored, entry, layout });
      observe(entry.rawLength, reply.ms / 1000);
      return Promise.resolve(replyToResult(reply));
    } catch (e) {
      return Promise.reject(e);
    }
  };
  if (workers <= 0) return Promise.resolve({ size: 0, decode: decodeHere, close() {} });
  const url = new URL("./decode_worker.ts", import.meta.url).href;
  const pool = createWorkerPool<DecodeRequest, DecodeReply>(url, workers, "decode");
  return Promise.resolve({
    size: workers,
    async decode(stored, entry, layout) {
      if (pool.closed) throw new Error("decode pool is closed");
      if (entry.rawLength < INLINE_BYTES) return decodeHere(stored, entry, layout);
      const owned = stored.byteOffset === 0 && stored.byteLength === stored.buffer.byteLength;
      const sent = owned ? stored : stored.slice();
      const reply = await pool.request({ stored: sent, entry, layout }, [
        sent.buffer as ArrayBuffer,
      ]);
      observe(entry.rawLength, reply.ms / 1000);
      return replyToResult(reply);
    },
    close: () => pool.close(),
  });
}
