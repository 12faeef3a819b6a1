/**
 * Blocks decoded on worker threads: a {@link BlockExecutor} over the one worker protocol, for the
 * CLI, the server and the Deno client. A block's stored runs and its output buffer move to the
 * worker and back by transfer (or, from shared memory, not at all), never by copy; small blocks decode on the calling thread, where a
 * round trip to a worker would cost more than the decode.
 * @module
 */
import type { BlockExecutor } from "../container/assemble.ts";
import { inThreadExecutor } from "../container/assemble.ts";
import type { Backends } from "../container/backends.ts";
import type { StoredRun } from "../container/decode_block.ts";
import { type Block, blockChunks } from "../container/plan.ts";
import { type BlockMessage, packBlock } from "./block_message.ts";
import { createWorkerPool } from "./worker_pool.ts";
import { keepBlockBuffersInHeap } from "./heap_tuning.ts";

/** A decode request as posted to a worker. */
export interface DecodeRequest {
  /** Matches the reply to the request. */
  readonly id: number;
  /** The block to produce. */
  readonly block: BlockMessage;
  /** Its stored bytes (transferred). */
  readonly runs: StoredRun[];
  /** A buffer to produce it into (transferred), if the caller has one to reuse. */
  readonly buffer?: Uint8Array;
  /** Where to write the output, when the pool writes. */
  readonly writeTo?: { readonly path: string; readonly offset: number };
}

/** A worker's reply: the buffer holding the block's output. */
export interface DecodeReply {
  /** Matches the reply to the request. */
  readonly id: number;
  /** The buffer (transferred back). */
  readonly buffer: Uint8Array;
}

/** A pool of decode workers. */
export interface DecodePool extends BlockExecutor {
  /** Worker threads. */
  readonly size: number;
  /** Stops the workers; pending blocks reject. */
  close(): void;
}

/**
 * Blocks with less decoding than this run on the calling thread: posting a message to a worker and
 * back measured about 25 µs each way, more than decoding 64 KiB costs.
 */
export const INLINE_BYTES = 64 << 10;

/** Options of {@link createDecodePool}. */
export interface DecodePoolOptions {
  /** Told of every block decoded. */
  readonly observe?: DecodeObserver;
  /**
   * Decoding runs on the calling thread until this many raw bytes were asked for, and the workers
   * start at half of it: a small model never pays for starting them (about 50 ms of CPU each),
   * and a large one has them warm when it needs them. 0 by default.
   */
  readonly startAfter?: number;
  /** Starts the workers at once (a server, which lives long enough to use them). */
  readonly eager?: boolean;
  /**
   * A file the pool writes blocks into, where it decodes them, when asked to (`writeAt`): the
   * workers write in parallel instead of the calling thread writing every byte (a 338 MB unpack
   * spent 0.7 s of its main thread writing).
   */
  readonly output?: string;
}

/** Observes every block decoded: raw bytes, seconds and chunks (for metrics). */
export type DecodeObserver = (rawBytes: number, seconds: number, chunks: number) => void;

/**
 * Starts `workers` decode threads (0 decodes on the calling thread with `backends`).
 *
 * @example
 * ```ts ignore
 * const pool = createDecodePool(2, nativeBackends());
 * for await (const out of assemble(c, blocks, { executor: pool })) sink(out);
 * pool.close();
 * ```
 */
export function createDecodePool(
  workers: number,
  backends: Backends,
  options: DecodePoolOptions = {},
): DecodePool {
  const { observe, startAfter = 0 } = options;
  const here = inThreadExecutor(backends);
  const timed = (block: Block, run: () => Promise<Uint8Array>) => {
    if (!observe) return run();
    const t0 = performance.now();
    return run().then((out) => {
      observe(block.rawBytes, (performance.now() - t0) / 1000, blockChunks(block));
      return out;
    });
  };
  const output = options.output;
  // Blocks decoded on this thread are written here, the others by the worker that decoded them.
  const writer = blockWriter();
  const runHere = async (block: Block, runs: StoredRun[], buffer?: Uint8Array, at?: number) => {
    const out = await here.run(block, runs, buffer);
    if (at !== undefined && output) writer.writeAt(output, at, out.subarray(0, block.length));
    return out;
  };
  if (workers <= 0) {
    return {
      size: 0,
      parallelism: 1,
      writes: output !== undefined,
      run: (block, runs, buffer, at) => timed(block, () => runHere(block, runs, buffer, at)),
      close: () => writer.close(),
    };
  }
  // Workers hand back a fresh buffer per block: keep their memory in the heap for the next one.
  keepBlockBuffersInHeap();
  const url = new URL("./decode_worker.ts", import.meta.url).href;
  const pool = createWorkerPool<DecodeRequest, DecodeReply>(url, workers, "decode");
  if (options.eager) pool.warm();
  let asked = 0;
  return {
    size: workers,
    parallelism: workers,
    writes: output !== undefined,
    run(block, runs, buffer, at) {
      asked += block.rawBytes;
      if (asked >= startAfter / 2) pool.warm();
      if (block.rawBytes < INLINE_BYTES || asked < startAfter) {
        return timed(block, () => runHere(block, runs, buffer, at));
      }
      return timed(block, async () => {
        const transfer: ArrayBuffer[] = [];
        const sent = runs.map((r) => {
          // Shared memory (an HTTP span) is shared as it is; a buffer of its own is moved; a view
          // into a larger private buffer is copied out, since moving it would take the rest too.
          if (r.bytes.buffer instanceof SharedArrayBuffer) return r;
          const own = r.bytes.byteOffset === 0 &&
            r.bytes.byteLength === r.bytes.buffer.byteLength;
          const bytes = own ? r.bytes : r.bytes.slice();
          if (!transfer.includes(bytes.buffer as ArrayBuffer)) {
            transfer.push(bytes.buffer as ArrayBuffer);
          }
          return { start: r.start, bytes };
        });
        const reuse = buffer && buffer.byteOffset === 0 &&
            buffer.byteLength === buffer.buffer.byteLength && buffer.length >= block.bufferBytes
          ? buffer
          : undefined;
        if (reuse) transfer.push(reuse.buffer as ArrayBuffer);
        const message = packBlock(block);
        transfer.push(message.table.buffer as ArrayBuffer);
        const writeTo = at !== undefined && output ? { path: output, offset: at } : undefined;
        const reply = await pool.request(
          { block: message, runs: sent, buffer: reuse, writeTo },
          transfer,
        );
        return reply.buffer;
      });
    },
    close() {
      writer.close();
      pool.close();
    },
  };
}

/** Writes blocks at their offsets in one output file at a time. */
export interface BlockWriter {
  /** Writes all of `bytes` at `offset` of the file at `path`, before returning. */
  writeAt(path: string, offset: number, bytes: Uint8Array): void;
  /** Closes the open file. */
  close(): void;
}

/**
 * A {@link BlockWriter} for one thread, keeping the output open across blocks: opening, seeking
 * and closing the file for every 1 MiB block cost a 338 MB unpack about 120 ms of its workers'
 * time. Writes are synchronous, because a worker has nothing else to do meanwhile and a seek and
 * its write must not interleave with another block's; each thread has a descriptor of its own,
 * so threads writing other parts of the file never share a file position.
 */
export function blockWriter(): BlockWriter {
  let open: { path: string; file: Deno.FsFile } | undefined;
  const close = () => {
    open?.file.close();
    open = undefined;
  };
  return {
    writeAt(path, offset, bytes) {
      if (open?.path !== path) {
        close();
        open = { path, file: Deno.openSync(path, { write: true }) };
      }
      const { file } = open;
      file.seekSync(offset, Deno.SeekMode.Start);
      for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
    },
    close,
  };
}
