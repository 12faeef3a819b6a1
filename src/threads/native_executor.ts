/**
 * Blocks run on Deno's blocking threads, with no worker isolate: a {@link BlockExecutor} whose
 * every heavy step is a nonblocking FFI call (reading a block's stored bytes from the container
 * file with `pread`, the native batch kernel, writing the output with `pwrite`), so that several
 * blocks decode at once while this thread only plans and finishes them (literals, tile copies,
 * the rare chunk the kernel leaves to the TypeScript codec).
 *
 * Why not the decode workers for a whole-file unpack: each worker is an isolate whose start costs
 * about 60-100 ms of CPU and 2,000 page faults (20-40 µs each on this VM), and the main thread
 * waits for each isolate to be created (about 40 ms each). On the 338 MB, 3,041-tensor model
 * this executor saved a third of the process's CPU and 30 MB of RSS (docs/ARCHITECTURE.md).
 * Deno on Linux with the native library only ({@link nativeExecutor} is undefined elsewhere).
 * @module
 */
import { type BlockExecutor, blockRuns } from "../container/assemble.ts";
import type { Backends } from "../container/backends.ts";
import { decodeBlockAsync, decodeScratch, type StoredRun } from "../container/decode_block.ts";
import type { Block } from "../container/plan.ts";
import { LOCAL_HINTS, type LocalFile } from "../container/source.ts";
import { loadNativeLibrary } from "../codec_native/kernel.ts";
import { posixFiles } from "./posix_file.ts";

/**
 * A {@link BlockExecutor} on Deno's blocking threads. Its `run` resolves once the block is decoded,
 * while the block's write may still be in flight: the write then overlaps the consumer's hashing,
 * and the buffer is reused only after it (a buffer given back to `run` waits for its write).
 */
export interface NativeExecutor extends BlockExecutor {
  /** Waits until every block run so far is written; rejects with the first write that failed. */
  flush(): Promise<void>;
  /**
   * Waits for the calls in flight (another thread may still use their buffers), then closes the
   * files; never rejects.
   */
  close(): Promise<void>;
}

/** Options of {@link nativeExecutor}. */
export interface NativeExecutorOptions {
  /** The container file, which the executor reads each block's stored bytes from. */
  readonly input: LocalFile;
  /** An existing file that blocks are written into when asked to (`run`'s `writeAt`). */
  readonly output?: string;
  /** Blocks worth running at once: the cores. */
  readonly parallelism: number;
}

/**
 * The least a buffer this executor allocates holds, in whole MiB: block outputs are 0.5-2 MiB
 * (a block's output plus room for its tiles), stored runs up to about 0.75 MiB, and each buffer
 * is reused for blocks of any size, so that fresh memory (page faults at 20-40 µs per 4 KiB here)
 * is taken only while the first blocks are in flight. Buffers are never as small as 64 bytes,
 * which V8 keeps inside its heap, where the garbage collector may move them during a call.
 */
const MIN_BUFFER = 2 << 20;

function allocate(n: number): Uint8Array {
  return new Uint8Array(Math.max(MIN_BUFFER, Math.ceil(n / (1 << 20)) * (1 << 20)));
}

/** Whether {@link nativeExecutor} can run here: the native library and libc's positional I/O. */
export function nativeExecutorAvailable(): boolean {
  return loadNativeLibrary() !== undefined && posixFiles() !== undefined;
}

/**
 * An executor that reads the container file `options.input` itself, or undefined where
 * {@link nativeExecutorAvailable} is false. Close it (and await that) before the process exits.
 *
 * @example
 * ```ts ignore
 * const ex = nativeExecutor(c.backends, { input: c.source.file!, output: tmp, parallelism: 2 });
 * for await (const out of assemble(c, blocks, { executor: ex, writeFrom: 0 })) hash.update(out);
 * await ex?.close();
 * ```
 */
export function nativeExecutor(
  backends: Backends,
  options: NativeExecutorOptions,
): NativeExecutor | undefined {
  const lib = loadNativeLibrary(), io = posixFiles();
  if (!lib || !io) return undefined;
  const { input, output } = options;
  const inFd = io.openRead(input);
  let outFd: number | undefined;
  try {
    if (output !== undefined) outFd = io.openWrite(output);
  } catch (e) {
    io.close(inFd);
    throw e;
  }
  // Used only between awaits, on this thread: one is enough for every block in flight.
  const scratch = decodeScratch();
  const spare: Uint8Array[] = [];
  const take = (n: number) => {
    const k = spare.findIndex((b) => b.length >= n);
    return k >= 0 ? spare.splice(k, 1)[0] : allocate(n);
  };
  const inflight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const settled = p.then(() => {}, () => {});
    inflight.add(settled);
    settled.then(() => inflight.delete(settled));
  };
  // Writes in flight by buffer, and the first that failed.
  const writing = new Map<Uint8Array, Promise<void>>();
  let writeFailed: unknown;
  const drain = async () => {
    while (inflight.size > 0) await Promise.all([...inflight]);
  };
  const runBlock = async (
    block: Block,
    given: StoredRun[] | null,
    buffer: Uint8Array | undefined,
    at: number | undefined,
  ): Promise<Uint8Array> => {
    const spans = given
      ? given.map((r) => ({ start: r.start, end: r.start + r.bytes.length }))
      : blockRuns(block, LOCAL_HINTS.gapBytes);
    let total = 0;
    for (const s of spans) total += s.end - s.start;
    // A block of literals only (the file's header) reads nothing.
    const stored = total > 0 ? take(total) : new Uint8Array(0);
    try {
      const runs: StoredRun[] = [];
      const reads: Promise<void>[] = [];
      let pos = 0;
      for (let i = 0; i < spans.length; i++) {
        const s = spans[i], bytes = stored.subarray(pos, pos + s.end - s.start);
        // Runs the caller read are copied out of what may be a small buffer inside V8's heap.
        if (given) bytes.set(given[i].bytes);
        else reads.push(io.readAt(inFd, bytes, s.start, input.path));
        runs.push({ start: s.start, bytes });
        pos += bytes.length;
      }
      // Every read settles before a failure is thrown: the buffer goes back for reuse only then.
      for (const r of await Promise.allSettled(reads)) if (r.status === "rejected") throw r.reason;
      const out = buffer && buffer.length >= block.bufferBytes && buffer.byteLength >= MIN_BUFFER
        ? buffer
        : allocate(block.bufferBytes);
      // A recycled buffer may still be on its way to the file.
      await writing.get(out);
      await decodeBlockAsync(block, runs, out, backends, scratch, lib.batchAsync);
      if (at !== undefined && outFd !== undefined) {
        const w = io.writeAt(outFd, out.subarray(0, block.length), at, output!).catch((e) => {
          writeFailed ??= e;
        }).finally(() => {
          if (writing.get(out) === w) writing.delete(out);
        });
        writing.set(out, w);
        track(w);
      }
      return out;
    } finally {
      if (stored.length > 0) spare.push(stored);
    }
  };
  let closed: Promise<void> | undefined;
  return {
    parallelism: Math.max(1, options.parallelism),
    writes: output !== undefined,
    reads: input,
    run(block, runs, buffer, at) {
      if (closed) return Promise.reject(new Error("native executor is closed"));
      const p = runBlock(block, runs, buffer, at);
      track(p);
      return p;
    },
    async flush() {
      await drain();
      if (writeFailed !== undefined) throw writeFailed;
    },
    close() {
      closed ??= (async () => {
        await drain();
        io.close(inFd);
        if (outFd !== undefined) io.close(outFd);
      })();
      return closed;
    },
  };
}
