/**
 * Chunk encoding on worker threads for `pack`: each chunk is a pure function of its bytes, so
 * chunks encode in parallel and are written in order. Memory stays bounded by the number of
 * chunks in flight.
 * @module
 */
import type { Mode } from "../../codec/chunk_encode.ts";
import type { PlaneLayout } from "../../codec/dtype.ts";

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
}

/** A worker's reply: the stored chunk and its checksums, or an error message. */
export type EncodeReply =
  | {
    readonly id: number;
    readonly stored: Uint8Array;
    readonly storedXxh32: number;
    readonly rawXxh32: number;
  }
  | { readonly id: number; readonly error: string };

/** An encoded chunk. */
export interface EncodedChunk {
  /** The stored bytes. */
  readonly stored: Uint8Array;
  /** XXH32 of the stored bytes. */
  readonly storedXxh32: number;
  /** XXH32 of the raw bytes. */
  readonly rawXxh32: number;
}

/** The pool. */
export interface EncodePool {
  /** Worker count. */
  readonly size: number;
  /** Encodes a copy of `raw`; the caller may reuse `raw` at once. */
  encode(raw: Uint8Array, layout: PlaneLayout, mode: Mode): Promise<EncodedChunk>;
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
  const pending = new Map<
    number,
    { resolve: (c: EncodedChunk) => void; reject: (e: unknown) => void; worker: number }
  >();
  const load = new Array<number>(workers).fill(0);
  let nextId = 0, closed = false;
  const threads = Array.from({ length: workers }, (_, w) => {
    const worker = new Worker(url, { type: "module" });
    worker.onmessage = (e: MessageEvent<EncodeReply>) => {
      const p = pending.get(e.data.id);
      if (!p) return;
      pending.delete(e.data.id);
      load[w]--;
      if ("stored" in e.data) p.resolve(e.data);
      else p.reject(new Error(`chunk encoding failed: ${e.data.error}`));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      for (const [id, p] of pending) {
        if (p.worker !== w) continue;
        pending.delete(id);
        load[w]--;
        p.reject(new Error(`encode worker ${w} failed: ${e.message}`));
      }
    };
    return worker;
  });
  return {
    size: workers,
    encode(raw, layout, mode) {
      if (closed) return Promise.reject(new Error("encode pool is closed"));
      let w = 0;
      for (let i = 1; i < workers; i++) if (load[i] < load[w]) w = i;
      const id = nextId++;
      load[w]++;
      return new Promise<EncodedChunk>((resolve, reject) => {
        pending.set(id, { resolve, reject, worker: w });
        // A copy, transferred: the caller's buffer may be a view into something larger.
        const msg: EncodeRequest = { id, raw: raw.slice(), layout, mode };
        threads[w].postMessage(msg, [msg.raw.buffer as ArrayBuffer]);
      });
    },
    close() {
      closed = true;
      for (const t of threads) t.terminate();
      for (const p of pending.values()) p.reject(new Error("encode pool closed"));
      pending.clear();
    },
  };
}
