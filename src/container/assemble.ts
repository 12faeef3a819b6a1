/**
 * The assembler: executes a plan. It reads each block's stored bytes from the container's source
 * (merged into spans as the source prefers: a file reads what each block needs, HTTP reads spans
 * of several MiB, several in flight), runs the blocks on an executor (this thread, or a pool of
 * decode workers), and yields their output in order, with bounded bytes in flight. Every byte it
 * yields has been checked against its chunk's XXH32. Browser-safe.
 * @module
 */
import type { Backends } from "./backends.ts";
import { decodeBlock, type DecodeScratch, decodeScratch, type StoredRun } from "./decode_block.ts";
import type { Container } from "./open.ts";
import { type Block, BLOCK_BYTES } from "./plan.ts";
import { spanPool } from "./buffer_pool.ts";
import { ContainerError } from "./errors.ts";
import { type ByteSource, LOCAL_HINTS, type LocalFile, type SourceHints } from "./source.ts";

/** Runs blocks: on this thread, or on worker threads. */
export interface BlockExecutor {
  /** Blocks worth running at once. */
  readonly parallelism: number;
  /** Whether it can also write each block's output to its output file, where it decodes it. */
  readonly writes?: boolean;
  /**
   * The container file it reads blocks' stored bytes from by itself, where it decodes them: for a
   * container whose source is that file, the assembler reads nothing and passes null runs.
   */
  readonly reads?: LocalFile;
  /**
   * Produces `block` from `runs` (null: from the file it `reads`) into `buffer` (reused when
   * given and large enough) and resolves with the buffer holding the output at
   * `[0, block.length)`; with `writeAt` (an executor that `writes`), the output is also written to
   * the output file at that offset by then. Rejects with the decode error.
   */
  run(
    block: Block,
    runs: StoredRun[] | null,
    buffer?: Uint8Array,
    writeAt?: number,
  ): Promise<Uint8Array>;
}

/** Whether `a` and `b` are the same file, as their sources opened it. */
export function sameFile(a: LocalFile | undefined, b: LocalFile | undefined): boolean {
  return a !== undefined && b !== undefined && a.path === b.path && a.size === b.size &&
    a.ino === b.ino;
}

/**
 * Why a new descriptor of `file.path` is not the file its source opened: `found` is what a stat of
 * that descriptor gave (undefined when it failed), and a size or inode other than the source's is a
 * `truncated` error. Undefined when it is the same file.
 */
export function changedFile(
  file: LocalFile,
  found: { readonly size: number; readonly ino: number | null } | undefined,
): ContainerError | undefined {
  if (found && found.size === file.size && (file.ino === null || found.ino === file.ino)) {
    return undefined;
  }
  return new ContainerError("truncated", `${file.path}: the file changed after it was opened`);
}

/**
 * An executor that decodes on the calling thread with `backends`.
 *
 * @example
 * ```ts ignore
 * const out = await inThreadExecutor(portableBackends).run(block, runs);
 * ```
 */
export function inThreadExecutor(backends: Backends): BlockExecutor {
  const scratch: DecodeScratch = decodeScratch();
  return {
    parallelism: 1,
    run(block, runs, buffer) {
      try {
        if (!runs) throw new RangeError("this thread reads no file: the assembler passes runs");
        const out = buffer && buffer.length >= block.bufferBytes
          ? buffer
          : new Uint8Array(block.bufferBytes);
        decodeBlock(block, runs, out, backends, scratch);
        return Promise.resolve(out);
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}

/** Options of {@link assemble}. */
export interface AssembleOptions {
  /** Where blocks run; the container's backends on this thread by default. */
  readonly executor?: BlockExecutor;
  /**
   * Output bytes produced ahead of the consumer; by default enough to keep the executor busy: a
   * block on this thread (it decodes the next while the consumer's asynchronous hashing and
   * writing of this one run elsewhere; every block more ahead was only fresh memory to fault in:
   * 4 MiB ahead cost a 21.6 MB unpack about 1,900 more page faults and 50 ms of CPU), 2 MiB per
   * worker with workers.
   */
  readonly aheadBytes?: number;
  /** Stops reading and decoding; the generator then throws the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * Reuse each yielded buffer once the consumer asks for the next block: the consumer promises
   * to be done with a block by then (hashed and written, say). Without it every block is fresh.
   */
  readonly recycle?: boolean;
  /** Called with the size of each stored read as it completes (wire bytes, for progress). */
  readonly onStoredBytes?: (n: number) => void;
  /**
   * The executor writes each block to its output file at `writeFrom` plus the block's position in
   * the body, where it decodes it (so a pool writes on its threads, in parallel); the yielded
   * blocks are then only to be read (hashed, say). Needs an executor that `writes`.
   */
  readonly writeFrom?: number;
}

/** A planned block: its stored runs and the spans they are read from. */
interface Planned {
  readonly block: Block;
  readonly runs: { start: number; end: number; span: Span }[];
}

/** A read of the source covering the runs of one or more blocks. */
interface Span {
  readonly start: number;
  end: number;
  /** Blocks that read from it and are not done; its pooled buffer goes back at zero. */
  users: number;
  /** The pooled buffer it was read into, if any. */
  pooled?: Uint8Array;
  /** Set once the read starts. */
  read?: Promise<Uint8Array>;
  /** Resolves with the bytes once the read has started and completed. */
  readonly ready: Promise<Uint8Array>;
  /** Starts the read; called in plan order, at most `inflight` reads outstanding. */
  begin(): void;
}

/**
 * Runs `blocks` against container `c` and yields each block's output in order. Output buffers
 * are fresh unless `recycle` is set.
 *
 * @example
 * ```ts ignore
 * for await (const bytes of assemble(c, planBlocks([tensorPiece(t)]))) sink(bytes);
 * ```
 */
export async function* assemble(
  c: Container,
  blocks: Iterable<Block>,
  options: AssembleOptions = {},
): AsyncGenerator<Uint8Array> {
  const hints: SourceHints = c.source.hints ?? LOCAL_HINTS;
  const executor = options.executor ?? inThreadExecutor(c.backends);
  // One signal for the reads: aborted by the caller's, or on return. A listener rather than
  // AbortSignal.any, and a reason of our own rather than the default DOMException: together they
  // cost about 40 µs per call (AbortSignal.any and a DOMException's stack trace), which the soak
  // measured on every tile, tensor and range, against 3 µs.
  const stop = new AbortController();
  const signal = stop.signal, outer = options.signal;
  const onOuter = () => stop.abort(outer!.reason);
  if (outer?.aborted) onOuter();
  else outer?.addEventListener("abort", onOuter, { once: true });
  const ahead = options.aheadBytes ??
    (executor.parallelism > 1 ? Math.max(4 << 20, executor.parallelism * (2 << 20)) : BLOCK_BYTES);
  // Stored bytes planned ahead of decoding, so that spans are requested early enough.
  const lookahead = Math.max(ahead, hints.spanBytes * hints.inflight);
  // An executor that reads the container's file itself gets no runs: nothing is read here.
  const selfRead = sameFile(executor.reads, c.source.file);
  const source = blocks[Symbol.iterator]();
  const planned: Planned[] = [];
  let plannedStored = 0, sourceDone = false, spanOpen: Span | undefined;
  let reading = 0; // reads in progress
  const queued: Span[] = []; // spans not yet started, in plan order

  const newSpan = (start: number, end: number): Span => {
    let resolve!: (b: Uint8Array) => void, reject!: (e: unknown) => void;
    const ready = new Promise<Uint8Array>((res, rej) => (resolve = res, reject = rej));
    ready.catch(() => {}); // awaited by readRuns; one abandoned on return must not go unhandled
    const span: Span = {
      start,
      end,
      users: 0,
      ready,
      begin() {
        if (spanOpen === span) spanOpen = undefined;
        reading++;
        const length = span.end - span.start, into = c.source.readInto;
        if (into) {
          const buffer = span.pooled = spanPool.take(length);
          span.read = into.call(c.source, span.start, buffer, signal).then(() => buffer);
        } else span.read = c.source.readAt(span.start, length, signal);
        span.read.then((bytes) => {
          options.onStoredBytes?.(bytes.length);
          resolve(bytes);
        }, reject).finally(() => {
          reading--;
          startReads();
        });
      },
    };
    return span;
  };
  // Reads start in plan order, at most `inflight` at once; a read that completes starts the next.
  const startReads = () => {
    while (queued.length > 0 && reading < hints.inflight && !signal.aborted) {
      const s = queued[0];
      // The span being filled waits until it is long enough, or nothing is left to plan, or a
      // block already needs it (then it was closed).
      if (s === spanOpen && !sourceDone && s.end - s.start < hints.spanBytes) break;
      queued.shift()!.begin();
    }
  };

  const plan = () => {
    while (!sourceDone && (planned.length === 0 || (!selfRead && plannedStored < lookahead))) {
      const n = source.next();
      if (n.done) {
        sourceDone = true;
        break;
      }
      const block = n.value;
      const runs: Planned["runs"] = [];
      if (selfRead) {
        planned.push({ block, runs });
        continue;
      }
      for (const r of blockRuns(block, hints.gapBytes)) {
        // A run joins the open span when it follows it closely and the span is still short.
        let s = spanOpen;
        if (
          !s || s.read || r.start < s.end || r.start - s.end > hints.gapBytes ||
          s.end - s.start >= hints.spanBytes
        ) {
          s = spanOpen = newSpan(r.start, r.end);
          queued.push(s);
        }
        s.end = Math.max(s.end, r.end);
        if (runs.every((x) => x.span !== s)) s.users++;
        runs.push({ ...r, span: s });
        plannedStored += r.end - r.start;
      }
      planned.push({ block, runs });
    }
    startReads();
  };

  const readRuns = async (p: Planned): Promise<StoredRun[]> => {
    const out: StoredRun[] = [];
    for (const r of p.runs) {
      const s = r.span;
      const bytes = await s.ready;
      out.push({ start: r.start, bytes: bytes.subarray(r.start - s.start, r.end - s.start) });
      plannedStored -= r.end - r.start;
    }
    return out;
  };

  const free: Uint8Array[] = [];
  const take = (need: number) => {
    for (let i = 0; i < free.length; i++) {
      if (free[i].length >= need) return free.splice(i, 1)[0];
    }
    return undefined;
  };
  const window: { block: Block; out: Promise<Uint8Array> }[] = [];
  let windowBytes = 0, position = options.writeFrom ?? 0;
  if (options.writeFrom !== undefined && !executor.writes) {
    throw new RangeError("writeFrom needs an executor that writes");
  }
  const fill = () => {
    plan();
    while (planned.length > 0 && (window.length === 0 || windowBytes < ahead)) {
      if (signal.aborted) return;
      const p = planned.shift()!;
      // The span being filled closes once a block that reads from it is dispatched.
      for (const r of p.runs) if (spanOpen === r.span) spanOpen = undefined;
      startReads();
      const buffer = options.recycle ? take(p.block.bufferBytes) : undefined;
      const writeAt = options.writeFrom === undefined ? undefined : position;
      position += p.block.length;
      const out = selfRead
        ? executor.run(p.block, null, buffer, writeAt)
        : readRuns(p).then((runs) => executor.run(p.block, runs, buffer, writeAt));
      // Once the block is decoded, the spans it read are free for other reads.
      const spans = new Set(p.runs.map((r) => r.span));
      out.finally(() => {
        for (const s of spans) if (--s.users === 0 && s.pooled) spanPool.give(s.pooled);
      }).catch(() => {});
      out.catch(() => {}); // awaited in order below; one abandoned on return must not go unhandled
      window.push({ block: p.block, out });
      windowBytes += p.block.length;
      plan();
    }
  };

  let last: Uint8Array | undefined;
  try {
    for (;;) {
      if (last && options.recycle) free.push(last);
      last = undefined;
      fill();
      const w = window.shift();
      if (!w) return;
      signal.throwIfAborted();
      const buffer = await w.out;
      windowBytes -= w.block.length;
      fill(); // start the next decodes before the consumer takes this block
      last = buffer;
      yield buffer.subarray(0, w.block.length);
    }
  } finally {
    outer?.removeEventListener("abort", onOuter);
    stop.abort(FINISHED);
  }
}

/** Why an assembly's reads stop once it returns (not an error anyone sees). */
const FINISHED = new Error("assemble: finished");

/**
 * The stored runs of `block` (as {@link blockRuns} merges them for a local file), each read through
 * `source`: what a thread that decodes a block by itself, outside the assembler, reads first.
 */
export async function readBlockRuns(source: ByteSource, block: Block): Promise<StoredRun[]> {
  return await Promise.all(
    blockRuns(block, LOCAL_HINTS.gapBytes).map(async (r) => ({
      start: r.start,
      bytes: await source.readAt(r.start, r.end - r.start),
    })),
  );
}

/**
 * The stored byte runs a block reads: its chunks and its variant bands' chunks in container order,
 * merged across small gaps.
 */
export function blockRuns(block: Block, gapBytes: number): { start: number; end: number }[] {
  let jobs: readonly { readonly offset: number; readonly storedLength: number }[] = block.jobs;
  if (block.variants) jobs = [...jobs, ...block.variants.flatMap((v) => v.chunks)];
  if (jobs.length === 0) return [];
  let sorted = true;
  for (let k = 1; k < jobs.length && sorted; k++) sorted = jobs[k].offset >= jobs[k - 1].offset;
  const order = sorted ? jobs : [...jobs].sort((a, b) => a.offset - b.offset);
  const runs: { start: number; end: number }[] = [];
  let cur = { start: order[0].offset, end: order[0].offset + order[0].storedLength };
  for (let k = 1; k < order.length; k++) {
    const j = order[k], end = j.offset + j.storedLength;
    if (j.offset <= cur.end + gapBytes) {
      if (end > cur.end) cur.end = end;
    } else {
      runs.push(cur);
      cur = { start: j.offset, end };
    }
  }
  runs.push(cur);
  return runs;
}
