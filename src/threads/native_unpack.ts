/**
 * A whole-file unpack's blocks produced by native/tsr_unpack.c on threads of its own: this thread
 * plans the blocks, hands them over as typed arrays (a few hundred per call), and waits; the C
 * threads read, decode (the batch kernel, which checks each chunk's XXH32), write each block at its
 * offset and feed the file's SHA-256 in order; they inflate zstd planes too, with the system's
 * libzstd. A block the C leaves (a corrupt chunk, a zstd plane without libzstd, a failed read or
 * write, variants) is produced here with the same
 * functions as every other path, so its errors are the same `chunk_corrupt`, `truncated` or I/O
 * errors, and the C call resumes after it.
 *
 * Why: the same steps driven block by block from this thread (the native executor: one FFI call
 * per read, decode, write and hash) ran a 338 MB unpack at 0.47x of `zstd -d -T1` with the machine
 * quiet and 0.58x loaded, much of the gap being this thread's turn between steps
 * (docs/ARCHITECTURE.md has the figures). The same pipeline streams a server's response body in
 * order onto a socket ({@link streamNative}, src/server/native_body.ts). Deno on Linux with the
 * native library only.
 * @module
 */
import { blockRuns, readBlockRuns } from "../container/assemble.ts";
import {
  decodeBlock,
  decodeScratch,
  kernelPiece,
  type StoredRun,
} from "../container/decode_block.ts";
import { D_STATUS, D_WORDS, fillPieceTable } from "../container/kernel_table.ts";
import type { BatchKernel, KernelPiece } from "../container/backends.ts";
import type { Container } from "../container/open.ts";
import type { Block } from "../container/plan.ts";
import { LOCAL_HINTS } from "../container/source.ts";
import { loadNativeLibrary, NATIVE_LIBRARY, SHA256_STATE_BYTES } from "../codec_native/kernel.ts";
import { after, nextTurn } from "../client/timer.ts";
import { posixFiles } from "./posix_file.ts";

/** The parameters that tsr_unpack_run and tsr_unpack_stream begin with. */
const RUN = [
  "pointer",
  "i32",
  "i32",
  "buffer",
  "u32",
  "u32",
  "buffer",
  "buffer",
  "buffer",
  "buffer",
  "buffer",
  "function",
] as const;

const SYMBOLS = {
  tsr_unpack_open: { parameters: ["u32"], result: "pointer" },
  tsr_unpack_close: { parameters: ["pointer"], result: "void" },
  tsr_unpack_zstd: { parameters: ["u32"], result: "u32" },
  // context, in and out descriptors, the block table, first, count, runs, jobs, literals, blob,
  // copies, the host callback; then the run's SHA-256 state and its control words, or (streamed)
  // the control words alone.
  tsr_unpack_run: { parameters: [...RUN, "buffer", "buffer"], result: "i32", nonblocking: true },
  tsr_unpack_stream: { parameters: [...RUN, "buffer"], result: "i32", nonblocking: true },
  tsr_stream_listen: { parameters: ["buffer"], result: "i32" },
  tsr_stream_accept: {
    parameters: ["i32", "buffer", "u32", "i32", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  tsr_stream_write: {
    parameters: ["i32", "buffer", "f64", "buffer"],
    result: "i32",
    nonblocking: true,
  },
} as const;

/** The callback that produces a block the kernel leaves: (block, stored bytes, buffer) -> ok. */
const HOST = { parameters: ["u32", "pointer", "pointer"], result: "u32" } as const;

// The block table's doubles per block and the control words: mirrored in native/tsr_unpack.c.
const B_WORDS = 15;
const B_OUT = 0, B_LENGTH = 1, B_BUFFER = 2, B_JOB = 3, B_JOBS = 4, B_RUN = 5, B_RUNS = 6;
const B_LITERAL = 7, B_LITERALS = 8, B_COPY = 9, B_COPIES = 10, B_SCRATCH = 11, B_STORED = 12;
const B_HOST = 13, B_TOOK = 14;
const C_WORDS = 8;
const K_CANCEL = 0, K_HASHED = 1, K_BLOCK = 2, K_ERRNO = 3;
const R_DONE = 0, R_WRITE = 4, R_CANCELLED = 5;
/** Linux's errno of a send on a stream socket whose reader is gone. */
const EPIPE = 32;

/**
 * Blocks per call: about 256 MiB of output. The next batch is planned while a call runs, and a
 * call's threads start and stop once per batch (a few milliseconds of a core idle each time).
 */
const BATCH_BLOCKS = 256;

/**
 * Blocks of the first call: few, so that the threads start after a few milliseconds of planning
 * rather than the 35-45 ms that a whole batch of the 3,041-tensor model took.
 */
const FIRST_BATCH_BLOCKS = 8;

/** Blocks planned between turns of the event loop. */
const PLAN_SLICE = 8;

/** How often the progress callback hears of the blocks hashed while a call runs. */
const PROGRESS_MS = 100;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let loaded: Symbols | null | undefined;

function binding(): Symbols | undefined {
  if (loaded === undefined) {
    loaded = null;
    // Only a library that loadNativeLibrary accepted (built from the sources beside it).
    if (loadNativeLibrary() && posixFiles()) {
      try {
        loaded = Deno.dlopen(NATIVE_LIBRARY, SYMBOLS).symbols;
      } catch {
        loaded = null; // an older library without it: the other paths run
      }
    }
  }
  return loaded ?? undefined;
}

/** Whether {@link unpackNative} can run here: Linux, the native library, libc's positional I/O. */
export function nativeUnpackAvailable(): boolean {
  return binding() !== undefined;
}

/**
 * Whether the C threads decode zstd planes themselves (with the system's libzstd, when found) or
 * hand their blocks to this thread, as without libzstd; returns whether they now do. For tests of
 * both paths; the default is to decode them natively.
 */
export function nativeUnpackZstd(enable: boolean): boolean {
  const f = binding();
  return f ? f.tsr_unpack_zstd(enable ? 1 : 0) !== 0 : false;
}

/** Options of {@link unpackNative}. */
export interface NativeUnpackOptions {
  /** Threads producing blocks (the caller's choice: unpackFile asks for two per core). */
  readonly threads: number;
  /** Told the bytes of the blocks hashed, in order, as they are. */
  readonly onBytes?: (n: number) => void;
  /** Stops between blocks; the call then throws the signal's reason. */
  readonly signal?: AbortSignal;
}

/** What {@link unpackNative} produced. */
export interface NativeUnpacked {
  /** Bytes written and hashed. */
  readonly bytes: number;
  /** Their SHA-256, lower-case hex. */
  readonly sha256: string;
  /**
   * Blocks the C threads handed to this thread: variants, stored-byte checks, a corrupt chunk, a
   * zstd plane without libzstd. None for a sound container of `fast` or `best`.
   */
  readonly handedBack: number;
}

/**
 * A typed array of `n` elements and at least 128 bytes: V8 keeps typed arrays of up to 64 bytes
 * inside its heap, where the garbage collector may move them while the C threads read them; larger
 * ones never move.
 */
function offHeap<T>(
  make: { new (n: number): T; readonly BYTES_PER_ELEMENT: number },
  n: number,
): T {
  return new make(Math.max(n, Math.ceil(128 / make.BYTES_PER_ELEMENT)));
}

/**
 * Control words for a C call, whose cancel word is set once `signal` aborts; `release` stops
 * listening to the signal.
 */
function cancelWords(signal?: AbortSignal): { readonly ctl: Int32Array; release(): void } {
  const ctl = offHeap(Int32Array, 16);
  const cancel = () => Atomics.store(ctl, K_CANCEL, 1);
  signal?.addEventListener("abort", cancel, { once: true });
  return { ctl, release: () => signal?.removeEventListener("abort", cancel) };
}

/** One batch of blocks as the C reads them, and the blocks themselves for those left to here. */
interface Batch {
  readonly blocks: Block[];
  /** File offset of each block. */
  readonly at: number[];
  /** File offset where the batch ends (where the next begins). */
  readonly end: number;
  readonly table: Float64Array;
  readonly runs: Float64Array;
  readonly jobs: Uint32Array;
  readonly literals: Float64Array;
  readonly blob: Uint8Array;
  readonly copies: Float64Array;
}

/**
 * Plans up to `most` blocks from `source` into a batch, from file offset `from`. It runs while a
 * call's threads run, and lets the event loop turn every {@link PLAN_SLICE} blocks: a C thread that
 * hands a block to this thread waits meanwhile, and the ring of blocks behind it stalls (a whole
 * batch planned at once held such a block up for 30-50 ms, at load 8).
 */
async function nextBatch(source: Iterator<Block>, from: number, most: number): Promise<Batch> {
  const blocks: Block[] = [], at: number[] = [];
  const table: number[] = [], runs: number[] = [], literals: number[] = [], copies: number[] = [];
  const pieces: KernelPiece[] = [], blobParts: Uint8Array[] = [];
  let blobBytes = 0, pos = from;
  while (blocks.length < most) {
    if (blocks.length % PLAN_SLICE === PLAN_SLICE - 1) await nextTurn();
    const n = source.next();
    if (n.done) break;
    const b = n.value;
    const row = new Array<number>(B_WORDS).fill(0);
    row[B_OUT] = pos, row[B_LENGTH] = b.length, row[B_BUFFER] = b.bufferBytes;
    blocks.push(b), at.push(pos);
    pos += b.length;
    const spans = blockRuns(b, LOCAL_HINTS.gapBytes);
    row[B_RUN] = runs.length / 2, row[B_RUNS] = spans.length;
    // Each run's place in the block's stored bytes, read back to back.
    const placed: number[] = [];
    let stored = 0;
    for (const s of spans) {
      runs.push(s.start, s.end);
      placed.push(stored);
      stored += s.end - s.start;
    }
    row[B_STORED] = stored;
    // Variants and stored-byte checks are for this thread (a whole original file has neither).
    if (b.variants || b.verifyStored) {
      row[B_HOST] = 1;
      table.push(...row);
      continue;
    }
    row[B_LITERAL] = literals.length / 3, row[B_LITERALS] = b.literals.length;
    for (const l of b.literals) {
      literals.push(l.at, blobBytes, l.bytes.length);
      blobParts.push(l.bytes);
      blobBytes += l.bytes.length;
    }
    row[B_JOB] = pieces.length, row[B_JOBS] = b.jobs.length;
    row[B_COPY] = copies.length / C_WORDS;
    let scratch = 0, r = 0;
    for (const j of b.jobs) {
      if (!(j.offset >= spans[r].start && j.offset + j.storedLength <= spans[r].end)) {
        r = spans.findIndex((s) => j.offset >= s.start && j.offset + j.storedLength <= s.end);
      }
      const piece = kernelPiece(j);
      pieces.push({ ...piece, offset: j.offset - spans[r].start + placed[r] });
      const c = j.copy;
      if (c && !piece.scatter) {
        copies.push(
          c.src,
          c.srcStride,
          c.rows,
          c.bytes,
          c.dst,
          c.dstStride,
          c.clipFrom,
          c.clipTo,
        );
      }
      if (j.rawLength > scratch) scratch = j.rawLength;
    }
    row[B_COPIES] = copies.length / C_WORDS - row[B_COPY];
    row[B_SCRATCH] = scratch;
    table.push(...row);
  }
  const jobs = offHeap(Uint32Array, pieces.length * D_WORDS);
  fillPieceTable(jobs, pieces, 0);
  const blob = offHeap(Uint8Array, blobBytes);
  blobParts.reduce((o, p) => (blob.set(p, o), o + p.length), 0);
  const f64 = (xs: number[]) => {
    const a = offHeap(Float64Array, xs.length);
    a.set(xs);
    return a;
  };
  return {
    blocks,
    at,
    end: pos,
    table: f64(table),
    runs: f64(runs),
    jobs,
    literals: f64(literals),
    blob,
    copies: f64(copies),
  };
}

/**
 * Produces `blocks` (the plan of `c`'s original file, in order) into the existing file `output`,
 * each at its offset, and returns the bytes and SHA-256 of what was written; the caller compares
 * them with the index and renames the file. Throws the decode, read and write errors of the other
 * paths, or the signal's reason. Needs {@link nativeUnpackAvailable}.
 *
 * @example
 * ```ts ignore
 * const { bytes, sha256 } = await unpackNative(c, countedBlocks(pieces), tmp, { threads: 2 });
 * ```
 */
export async function unpackNative(
  c: Container,
  blocks: Iterable<Block>,
  output: string,
  options: NativeUnpackOptions,
): Promise<NativeUnpacked> {
  const f = binding(), io = posixFiles(), lib = loadNativeLibrary();
  if (!f || !io || !lib || !c.source.file) {
    throw new Error("native unpack: needs Linux, the native library and a local container file");
  }
  options.signal?.throwIfAborted();
  // The state C and this thread feed in turn; never both at once.
  const state = offHeap(Uint8Array, SHA256_STATE_BYTES * 2);
  const sha = lib.sha256In(state, true);
  const outFd = io.openWrite(output);
  try {
    const made = await runBlocks(c, blocks, options, {
      call: (a) => f.tsr_unpack_run(...callHead(a, outFd), state, a.ctl),
      // A failed read or write, or no memory: this thread does the block with its own I/O, which
      // throws that step's usual error if it fails again.
      async redo(block, at) {
        const out = await produceHere(c, block);
        sha.update(out);
        await io.writeAt(outFd, out, at, output);
      },
    });
    return { ...made, sha256: sha.hex() };
  } finally {
    io.close(outFd);
  }
}

/**
 * The error of a stream whose reader went away (a client that closed its connection): the blocks
 * before it were sent; nothing is wrong with the container.
 */
export class StreamClosedError extends Error {
  /** Always `"stream_closed"`. */
  readonly kind = "stream_closed";
  /** Builds the error. */
  constructor() {
    super("the reader of the stream went away");
    this.name = "StreamClosedError";
  }
}

/** The error of a failed send with `errno`: {@link StreamClosedError} when the reader is gone. */
function sendError(errno: number): Error {
  return errno === EPIPE
    ? new StreamClosedError()
    : new Error(`native stream: send failed: errno ${errno}`);
}

/** Options of {@link streamNative}. */
export interface NativeStreamOptions extends NativeUnpackOptions {
  /** Told of each block produced by the C threads: its raw bytes, seconds and chunks. */
  readonly onDecoded?: (rawBytes: number, seconds: number, chunks: number) => void;
  /**
   * The container file opened by the caller (`posixFiles().openRead`), who closes it; else it is
   * opened here. A server opens it before its response starts: a file removed or replaced at its
   * path since the container was opened is then found while the body can still take another way.
   */
  readonly input?: number;
}

/**
 * Produces `blocks` in order onto the stream socket `fd` (from {@link streamAccept}), whose reader
 * passes them on as an HTTP response body. Every chunk's XXH32 is checked and
 * nothing is hashed. Resolves with the bytes sent once all are on the socket; throws the decode and
 * read errors of the other paths (after exactly the blocks before the failing one were sent),
 * {@link StreamClosedError} when the reader went away, or the signal's reason. Does not close
 * `fd`. Needs {@link nativeUnpackAvailable}.
 */
export async function streamNative(
  c: Container,
  blocks: Iterable<Block>,
  fd: number,
  options: NativeStreamOptions,
): Promise<number> {
  const f = binding();
  if (!f || !c.source.file) {
    throw new Error("native stream: needs Linux, the native library and a local container file");
  }
  options.signal?.throwIfAborted();
  const made = await runBlocks(c, blocks, options, {
    call: (a) => f.tsr_unpack_stream(...callHead(a, fd), a.ctl),
    async redo(block, _at, result, errno) {
      if (result === R_WRITE) throw sendError(errno);
      await streamWrite(fd, await produceHere(c, block), options.signal);
    },
  });
  return made.bytes;
}

/**
 * Sends all of `bytes` on the stream socket `fd` (from {@link streamAccept}) as
 * {@link streamNative} sends blocks, on another thread: throws {@link StreamClosedError} when the
 * reader went away, or the signal's reason. Needs {@link nativeUnpackAvailable}.
 */
export async function streamWrite(fd: number, bytes: Uint8Array, signal?: AbortSignal) {
  const { ctl, release } = cancelWords(signal);
  try {
    const sent = await binding()!.tsr_stream_write(fd, bytes, bytes.length, ctl);
    if (sent === R_CANCELLED) signal?.throwIfAborted();
    if (sent !== R_DONE) throw sendError(ctl[K_ERRNO]);
  } finally {
    release();
  }
}

/**
 * A listening Unix socket at `path` (in a folder of the caller's own) for {@link streamAccept}:
 * its descriptor, close-on-exec and nonblocking. Needs {@link nativeUnpackAvailable}.
 */
export function streamListen(path: string): number {
  const fd = binding()!.tsr_stream_listen(new TextEncoder().encode(path + "\0"));
  if (fd < 0) throw new Error(`${path}: cannot listen: errno ${-fd}`);
  return fd;
}

/**
 * Accepts the one connection of `listener` (and closes the listener), reads an HTTP/1.1 request
 * head from it and answers the response head `head`: the connection's descriptor, for
 * {@link streamNative}. Throws after `timeoutMs` without a request, or once `signal` aborts.
 */
export async function streamAccept(
  listener: number,
  head: Uint8Array,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<number> {
  const { ctl, release } = cancelWords(signal);
  try {
    const data = offHeap(Uint8Array, head.length);
    data.set(head);
    const fd = await binding()!.tsr_stream_accept(listener, data, head.length, timeoutMs, ctl);
    if (fd < 0) throw new Error(`native stream: no connection: errno ${-fd}`);
    return fd;
  } finally {
    release();
  }
}

/** What {@link runBlocks} hands the C call of each slice of a batch. */
interface CallArgs {
  readonly context: Deno.PointerValue;
  readonly inFd: number;
  readonly table: Float64Array;
  readonly first: number;
  readonly count: number;
  readonly runs: Float64Array;
  readonly jobs: Uint32Array;
  readonly literals: Float64Array;
  readonly blob: Uint8Array;
  readonly copies: Float64Array;
  readonly host: Deno.PointerValue;
  readonly ctl: Int32Array;
}

/** The arguments tsr_unpack_run and tsr_unpack_stream begin with, writing to `out`. */
function callHead(a: CallArgs, out: number) {
  return [
    a.context,
    a.inFd,
    out,
    a.table,
    a.first,
    a.count,
    a.runs,
    a.jobs,
    a.literals,
    a.blob,
    a.copies,
    a.host,
  ] as const;
}

/** Where {@link runBlocks} puts blocks: a file at their offsets, or a stream in order. */
interface Output {
  /** Starts the C call (tsr_unpack_run or tsr_unpack_stream) for a slice of a batch. */
  call(a: CallArgs): Promise<number>;
  /**
   * Puts out `block` (at file offset `at`) after the C call stopped at it with `result` (a failed
   * read or write, no memory), from this thread; or throws.
   */
  redo(block: Block, at: number, result: number, errno: number): Promise<void>;
}

/**
 * The block pipeline shared by {@link unpackNative} and {@link streamNative}: plans batches while
 * the C threads run the previous one, produces here the blocks they leave, tells the progress
 * callbacks, and stops them before returning or throwing.
 */
async function runBlocks(
  c: Container,
  blocks: Iterable<Block>,
  options: NativeStreamOptions,
  output: Output,
): Promise<{ bytes: number; handedBack: number }> {
  const f = binding()!, io = posixFiles()!;
  const { signal, onBytes, onDecoded } = options;
  const inFd = options.input ?? io.openRead(c.source.file!);
  const { ctl, release } = cancelWords(signal);
  let inCall: Promise<number> | undefined;
  let host: Deno.UnsafeCallback<typeof HOST> | undefined;
  const context = f.tsr_unpack_open(Math.max(1, options.threads));
  try {
    if (context === null) throw new Error("native unpack: out of memory");
    const source = blocks[Symbol.iterator]();
    let pos = 0, batch = await nextBatch(source, 0, FIRST_BATCH_BLOCKS);
    // Blocks the kernel leaves are produced by this thread when a C thread asks, while the others
    // go on; the first error stays here, and the call stops at its block.
    let failure: { error: unknown } | undefined;
    const scratch = decodeScratch();
    let handedBack = 0;
    host = Deno.UnsafeCallback.threadSafe(HOST, (k, storedAt, outAt) => {
      handedBack++;
      try {
        const b = batch.blocks[k], row = k * B_WORDS;
        const runs: StoredRun[] = [];
        for (let i = 0, at = 0; i < batch.table[row + B_RUNS]; i++) {
          const r = (batch.table[row + B_RUN] + i) * 2;
          const start = batch.runs[r], n = batch.runs[r + 1] - start;
          runs.push({ start, bytes: new Uint8Array(foreign(storedAt, at + n), at, n) });
          at += n;
        }
        // The kernel's statuses of this block's chunks stand for a second kernel call: only the
        // chunks it left are decoded again, by the TypeScript codec (a block of 58 chunks with
        // one zstd plane was decoded whole here before).
        const first = batch.table[row + B_JOB], decoded = batch.table[row + B_HOST] === 0;
        const backends = decoded
          ? { ...c.backends, kernel: kernelDid(b, first, batch.jobs) }
          : c.backends;
        decodeBlock(b, runs, new Uint8Array(foreign(outAt, b.bufferBytes)), backends, scratch);
        return 1;
      } catch (e) {
        failure ??= { error: e };
        return 0;
      }
    });
    while (batch.blocks.length > 0) {
      const count = batch.blocks.length;
      let following: Promise<Batch> | undefined, told = 0;
      // Blocks done so far tell the progress callbacks, in whole blocks.
      const tell = (done: number) => {
        for (; told < done; told++) {
          const b = batch.blocks[told];
          onBytes?.(b.length);
          onDecoded?.(b.rawBytes, batch.table[told * B_WORDS + B_TOOK], b.jobs.length);
        }
      };
      for (let from = 0; from < count;) {
        ctl[K_HASHED] = 0;
        inCall = output.call({
          context,
          inFd,
          table: batch.table.subarray(from * B_WORDS),
          first: from,
          count: count - from,
          runs: batch.runs,
          jobs: batch.jobs,
          literals: batch.literals,
          blob: batch.blob,
          copies: batch.copies,
          host: host.pointer,
          ctl,
        });
        let ticking = onBytes !== undefined || onDecoded !== undefined;
        const tick = () => {
          if (!ticking) return;
          tell(from + Atomics.load(ctl, K_HASHED));
          after(PROGRESS_MS, tick);
        };
        if (ticking) after(PROGRESS_MS, tick);
        // The next batch is planned while this one runs.
        if (!following) {
          following = nextBatch(source, batch.end, Math.min(2 * count, BATCH_BLOCKS));
          following.catch(() => {}); // awaited below; one abandoned on an error must not go unhandled
        }
        const result = await inCall;
        inCall = undefined;
        ticking = false;
        if (result === R_DONE) {
          tell(count);
          signal?.throwIfAborted();
          break;
        }
        const k = from + ctl[K_BLOCK];
        tell(k);
        if (result === R_CANCELLED) signal?.throwIfAborted();
        if (failure) throw failure.error;
        await output.redo(batch.blocks[k], batch.at[k], result, ctl[K_ERRNO]);
        tell(k + 1);
        signal?.throwIfAborted();
        from = k + 1;
      }
      pos = batch.end;
      batch = await (following ?? nextBatch(source, pos, BATCH_BLOCKS));
    }
    return { bytes: pos, handedBack };
  } finally {
    release();
    // A call still running (this thread threw meanwhile) uses the files and tables: stop it first.
    if (inCall) {
      Atomics.store(ctl, K_CANCEL, 1);
      await inCall.catch(() => {});
    }
    host?.close();
    f.tsr_unpack_close(context);
    if (options.input === undefined) io.close(inFd);
  }
}

/**
 * A batch kernel that decodes nothing and answers what the C threads' kernel call did to the
 * chunks of `block` (rows from `first` of `jobs`): 0 for each it decoded (and scattered), else its
 * status, so that `decodeBlock` decodes only the others.
 */
function kernelDid(block: Block, first: number, jobs: Uint32Array): BatchKernel {
  const row = new Map<number, number>();
  block.jobs.forEach((j, i) => row.set(j.offset, first + i));
  return (_stored, _base, pieces) =>
    Uint8Array.from(pieces, (p) => jobs[row.get(p.offset)! * D_WORDS + D_STATUS]);
}

/** `n` bytes of memory at `at`, owned by the C side. */
function foreign(at: Deno.PointerValue, n: number): ArrayBuffer {
  return n === 0 || at === null ? new ArrayBuffer(0) : Deno.UnsafePointerView.getArrayBuffer(at, n);
}

/**
 * Produces `block` on this thread, reading its stored bytes through the container's source: the
 * other paths' way, so a read that fails again fails with their error.
 */
async function produceHere(c: Container, block: Block): Promise<Uint8Array> {
  const out = new Uint8Array(block.bufferBytes);
  decodeBlock(block, await readBlockRuns(c.source, block), out, c.backends, decodeScratch());
  return out.subarray(0, block.length);
}
