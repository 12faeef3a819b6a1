/**
 * Blocks decoded on worker threads: a {@link BlockExecutor} over the one worker protocol, for the
 * CLI, the server and the Deno client. A block's stored runs and its output buffer move to the
 * worker and back by transfer (or, from shared memory, not at all), never by copy; given the
 * container's file, the workers read the stored runs there themselves; given an ordered hash, they
 * also hash each output in plan order and keep it. Small blocks decode on the calling thread, where
 * a round trip to a worker would cost more than the decode.
 * @module
 */
import { type BlockExecutor, readBlockRuns } from "../container/assemble.ts";
import type { Backends } from "../container/backends.ts";
import { decodeBlock, decodeScratch, type StoredRun } from "../container/decode_block.ts";
import { type Block, blockChunks } from "../container/plan.ts";
import { type BlockMessage, packBlock } from "./block_message.ts";
import { createWorkerPool, type WorkerPool } from "./worker_pool.ts";
import { keepBlockBuffersInHeap } from "./heap_tuning.ts";
import { blockReader, blockWriter } from "./block_io.ts";
import type { ByteSource, LocalFile } from "../container/source.ts";
import type { OrderedHash } from "./ordered_hash.ts";

/** A decode request as posted to a worker. */
export interface DecodeRequest {
  /** Matches the reply to the request. */
  readonly id: number;
  /** The block to produce. */
  readonly block: BlockMessage;
  /** Its stored bytes (transferred), or null to read them from `readFrom`. */
  readonly runs: StoredRun[] | null;
  /** The container file to read the stored bytes from, when `runs` is null. */
  readonly readFrom?: LocalFile;
  /**
   * A buffer to produce it into, if the caller has one to reuse: transferred, or shared memory,
   * which both threads then use in place.
   */
  readonly buffer?: Uint8Array;
  /**
   * No buffer will come back to be reused: reply with a buffer of exactly the block's length (a
   * block with tiles to copy is decoded in the worker's own buffer, and its output copied out).
   */
  readonly exact?: boolean;
  /** Where to write the output, when the pool writes. */
  readonly writeTo?: { readonly path: string; readonly offset: number };
  /**
   * The pool's ordered SHA-256 and this block's turn in it: the worker feeds the output to it and
   * keeps the output (the reply's buffer is then empty).
   */
  readonly hash?: { readonly shared: SharedArrayBuffer; readonly turn: number };
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
  /**
   * This pool as the executor of response bodies read from `source` (a server's): the consumer
   * holds each output until the socket took it and never hands it back, so every output is a
   * buffer of exactly the block's length, without the room a block's tiles are decoded in before
   * their rows are copied (on the many-tensor model that room made the buffers 1.7 times the
   * bytes sent, all of it fresh memory to clear and fault in, and to count towards the garbage
   * collections that external memory triggers). When the source is a local file the executor
   * `reads` it: each block's stored bytes are read by the thread that decodes it and the assembler
   * reads nothing; a block whose thread fails (the file was removed or replaced at its path since
   * the source opened it, which open readers must survive) runs again with its bytes read through
   * `source` on this thread, and fails for good only if that fails too.
   */
  servingFrom(source: ByteSource): BlockExecutor;
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
  /**
   * The container file, when the container is read from a local file: each worker then reads the
   * stored bytes of the blocks it decodes there itself, so that no block's stored bytes are read,
   * copied or moved by the calling thread (the assembler passes null runs: `BlockExecutor.reads`).
   */
  readonly input?: LocalFile;
  /**
   * A SHA-256 of every block's output in the order the blocks are run (`orderedHash`), fed by the
   * workers: the outputs then never leave them, and `run` resolves with an empty buffer. Every
   * block then runs on a worker, since the turns are taken there.
   */
  readonly hash?: OrderedHash;
}

/** Decode worker threads, started ahead of the pool that will use them. */
export type DecodeWorkers = WorkerPool<DecodeRequest, DecodeReply>;

const WORKER_URL = new URL("./decode_worker.ts", import.meta.url).href;

/**
 * Starts `n` decode workers now, for a pool created later ({@link createDecodePool}, which then
 * owns them): `unpack` starts them before it opens the container, so that their start-up (an
 * isolate, their modules and the native library each: about 60-100 ms of CPU and 2,000 page
 * faults) runs on the other core while this thread parses the index, instead of after it.
 *
 * @example
 * ```ts ignore
 * const workers = startDecodeWorkers(2);
 * const c = await openContainerFile("model.tsr");
 * const pool = createDecodePool(workers, c.backends);
 * ```
 */
export function startDecodeWorkers(n: number): DecodeWorkers {
  const pool = createWorkerPool<DecodeRequest, DecodeReply>(WORKER_URL, n, "decode");
  pool.warm();
  return pool;
}

/** Observes every block decoded: raw bytes, seconds and chunks (for metrics). */
export type DecodeObserver = (rawBytes: number, seconds: number, chunks: number) => void;

/**
 * Starts `workers` decode threads (0 decodes on the calling thread with `backends`), or takes over
 * workers {@link startDecodeWorkers} started.
 *
 * @example
 * ```ts ignore
 * const pool = createDecodePool(2, nativeBackends());
 * for await (const out of assemble(c, blocks, { executor: pool })) sink(out);
 * pool.close();
 * ```
 */
export function createDecodePool(
  workers: number | DecodeWorkers,
  backends: Backends,
  options: DecodePoolOptions = {},
): DecodePool {
  const { observe, startAfter = 0 } = options;
  const timed = (block: Block, run: () => Promise<Uint8Array>) => {
    if (!observe) return run();
    const t0 = performance.now();
    return run().then((out) => {
      observe(block.rawBytes, (performance.now() - t0) / 1000, blockChunks(block));
      return out;
    });
  };
  const { output, input, hash } = options;
  // Blocks decoded on this thread are read and written here, the others by the worker that decodes
  // them.
  const writer = blockWriter(), reader = blockReader();
  // This thread's buffer for blocks whose outputs are copied out (`exact`). Reading, decoding and
  // copying out are one synchronous step: blocks of other bodies run here in between.
  let own = new Uint8Array(0);
  const scratch = decodeScratch();
  const runHere = (
    how: How,
    block: Block,
    runs: StoredRun[] | null,
    buffer?: Uint8Array,
    at?: number,
  ): Promise<Uint8Array> => {
    try {
      const copy = how.exact && !buffer && block.bufferBytes > block.length;
      if (copy && own.length < block.bufferBytes) own = new Uint8Array(block.bufferBytes);
      const out = copy
        ? own
        : buffer && buffer.length >= block.bufferBytes
        ? buffer
        : new Uint8Array(block.bufferBytes);
      decodeBlock(block, runs ?? reader.read(how.file!, block), out, backends, scratch);
      if (at !== undefined && output) writer.writeAt(output, at, out.subarray(0, block.length));
      return Promise.resolve(copy ? out.slice(0, block.length) : out);
    } catch (e) {
      return Promise.reject(e);
    }
  };
  const close = () => {
    writer.close();
    reader.close();
  };
  type Run = (how: How, ...args: Parameters<BlockExecutor["run"]>) => Promise<Uint8Array>;
  /** The executor over `run` for blocks run `how`. */
  const executor = (how: How, run: Run, size: number): BlockExecutor => ({
    parallelism: Math.max(1, size),
    writes: output !== undefined,
    reads: how.file,
    run: (block, runs, buffer, at) => run(how, block, runs, buffer, at),
  });
  const servingFrom = (source: ByteSource, run: Run, size: number): BlockExecutor => {
    const file = source.file;
    const served = executor({ file, exact: true }, run, size);
    if (!file) return served;
    const fallback: How = { exact: true };
    return {
      ...served,
      run: (block, runs, buffer, at) =>
        runs ? served.run(block, runs, buffer, at) : served.run(block, null, buffer, at).catch(
          async () => run(fallback, block, await readBlockRuns(source, block), undefined, at),
        ),
    };
  };
  if (typeof workers === "number" && workers <= 0) {
    if (hash) throw new RangeError("an ordered hash needs worker threads");
    const run: Run = (how, block, runs, buffer, at) =>
      timed(block, () => runHere(how, block, runs, buffer, at));
    return {
      ...executor({ file: input, exact: false }, run, 0),
      size: 0,
      servingFrom: (source) => servingFrom(source, run, 0),
      close,
    };
  }
  // Workers hand back a fresh buffer per block: keep their memory in the heap for the next one.
  keepBlockBuffersInHeap();
  const pool = typeof workers === "number"
    ? createWorkerPool<DecodeRequest, DecodeReply>(WORKER_URL, workers, "decode")
    : workers;
  if (options.eager) pool.warm();
  let asked = 0, turn = 0;
  const run: Run = (how, block, runs, buffer, at) => {
    asked += block.rawBytes;
    if (asked >= startAfter / 2) pool.warm();
    if (!hash && (block.rawBytes < INLINE_BYTES || asked < startAfter)) {
      return timed(block, () => runHere(how, block, runs, buffer, at));
    }
    return timed(block, async () => {
      const transfer: ArrayBuffer[] = [];
      const sent = runs?.map((r) => {
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
      }) ?? null;
      // With an ordered hash the output stays in the worker: no buffer goes either way.
      const reuse = !hash && buffer && buffer.length >= block.bufferBytes &&
          (buffer.buffer instanceof SharedArrayBuffer ||
            buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength)
        ? buffer
        : undefined;
      if (reuse && !(reuse.buffer instanceof SharedArrayBuffer)) {
        transfer.push(reuse.buffer as ArrayBuffer);
      }
      const message = packBlock(block);
      transfer.push(message.table.buffer as ArrayBuffer);
      const writeTo = at !== undefined && output ? { path: output, offset: at } : undefined;
      const reply = await pool.request(
        {
          block: message,
          runs: sent,
          readFrom: sent ? undefined : how.file,
          buffer: reuse,
          exact: how.exact && !reuse,
          writeTo,
          hash: hash ? { shared: hash.shared, turn: turn++ } : undefined,
        },
        transfer,
      );
      return reply.buffer;
    });
  };
  return {
    ...executor({ file: input, exact: false }, run, pool.size),
    size: pool.size,
    servingFrom: (source) => servingFrom(source, run, pool.size),
    close() {
      close();
      pool.close();
    },
  };
}

/** How an executor of the pool runs blocks. */
interface How {
  /** The container file the decoding thread reads each block's stored bytes from, if any. */
  readonly file?: LocalFile;
  /** Outputs are buffers of exactly the block's length ({@link DecodePool.servingFrom}). */
  readonly exact: boolean;
}
