/**
 * Where container bytes come from: a file, HTTP Range requests, an object store, or memory. The
 * reader only ever asks a source for byte ranges, so the same code reads a container anywhere.
 * Browser-safe.
 * @module
 */

/** How a source prefers to be read; the assembler groups reads accordingly. */
export interface SourceHints {
  /**
   * Smallest read worth a request of its own: consecutive reads of a plan are merged into spans of
   * at least this many bytes (0: read what each block needs, as a local file prefers).
   */
  readonly spanBytes: number;
  /** Reads separated by at most this many bytes are merged, reading the gap. */
  readonly gapBytes: number;
  /** Spans read at once. */
  readonly inflight: number;
}

/** A byte-range source of known size. */
export interface ByteSource {
  /** Total size in bytes, fixed for the life of the source. */
  readonly size: number;
  /**
   * Exactly bytes `[offset, offset + length)`; rejects when the range is outside the source or
   * the bytes cannot be had. The result may be a view the caller must not modify.
   */
  readAt(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * Fills `target` with the bytes at `offset`, when the source can read into a buffer it is given:
   * the assembler then reads into buffers it reuses, which on a virtual machine saves faulting in
   * fresh pages for every read (fresh memory measured 0.2-5 GB/s here, reused 10-60).
   */
  readInto?(offset: number, target: Uint8Array, signal?: AbortSignal): Promise<void>;
  /**
   * Bytes `[offset, offset + length)` in order, in pieces, each as soon as the source has it, when
   * the source's bytes arrive piece by piece (an edge's, segment by segment as each is verified):
   * a long read then passes on its first bytes without waiting for the rest. Views the caller must
   * not modify.
   */
  readPieces?(offset: number, length: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /**
   * The local file the bytes come from, when they come from one: an executor on other threads
   * (the decode pool) may then open it and read each block's chunks there itself, instead of this
   * thread reading them and passing them over.
   */
  readonly file?: LocalFile;
  /** Read grouping; a local file's defaults when absent. */
  readonly hints?: SourceHints;
  /** Releases the resource; later reads reject. */
  close(): void;
}

/** A local file behind a source: where it is, and which file it was when the source opened it. */
export interface LocalFile {
  /** Its path. */
  readonly path: string;
  /** Its size when the source opened it. */
  readonly size: number;
  /**
   * Its inode number when the source opened it (null where the platform has none): a reader that
   * opens the path again refuses another file renamed over it.
   */
  readonly ino: number | null;
}

/** What a local file wants: one read per block, no merging across gaps of unneeded chunks. */
export const LOCAL_HINTS: SourceHints = { spanBytes: 0, gapBytes: 64 << 10, inflight: 4 };

/**
 * Checks that `[offset, offset + length)` lies within `size` bytes, overflow-free; throws a
 * RangeError naming `what` otherwise.
 */
export function checkRange(offset: number, length: number, size: number, what: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`${what}: offset must be a non-negative integer: received ${offset}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`${what}: length must be a non-negative integer: received ${length}`);
  }
  if (offset > size || length > size - offset) {
    throw new RangeError(
      `${what}: read of ${length} bytes at offset ${offset} exceeds size ${size}`,
    );
  }
}

/**
 * A source over bytes in memory; reads are views into `bytes`.
 *
 * @example
 * ```ts
 * import { bufferSource } from "./source.ts";
 * const s = bufferSource(new Uint8Array([1, 2, 3, 4]));
 * console.assert((await s.readAt(1, 2))[0] === 2);
 * ```
 */
export function bufferSource(bytes: Uint8Array): ByteSource {
  let closed = false;
  return {
    size: bytes.length,
    readAt(offset, length) {
      if (closed) return Promise.reject(new Error("buffer source is closed"));
      try {
        checkRange(offset, length, bytes.length, "buffer source");
      } catch (e) {
        return Promise.reject(e);
      }
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
    close() {
      closed = true;
    },
  };
}
