/**
 * Executes one block of a plan: literal bytes into place, every chunk decoded (the batch kernel
 * first, the TypeScript codec for whatever it leaves) and verified, tiles copied into rows; every
 * variant chunk decoded once (its sections through the same kernel) and each variant band
 * dequantised into place. The same body runs on the calling thread and in decode workers (a whole
 * file's unpack has its own native pipeline, `src/threads/native_unpack.ts`). Browser-safe.
 * @module
 */
import { decodeChunk, scratchBytes } from "../../codec/chunk_decode.ts";
import { dtypeWidth } from "../../codec/dtype.ts";
import { CodecError } from "../../codec/errors.ts";
import { decodeVariantChunk } from "../../codec/variants/chunk_decode.ts";
import { dequantiseRegion } from "../../codec/variants/dequantise.ts";
import type { SectionDecoder } from "../../codec/variants/sections_decode.ts";
import { xxh32 } from "../../codec/xxh32.ts";
import { type Backends, KERNEL_FAILED, type KernelPiece } from "./backends.ts";
import { chunkFailure } from "./errors.ts";
import type { Block, ChunkJob, RowCopy, VariantJob } from "./plan.ts";

/** Stored container bytes `[start, start + bytes.length)`, holding whole chunks of a block. */
export interface StoredRun {
  /** Container offset of the first byte. */
  readonly start: number;
  /** The bytes. */
  readonly bytes: Uint8Array;
}

/** Buffers one thread reuses across blocks. */
export interface DecodeScratch {
  /** Planes of a chunk. */
  planes: Uint8Array;
  /** The rANS slot table. */
  slots: Int32Array;
  /** rANS words. */
  words: Uint16Array;
  /** The payloads of a block's variant chunks, back to back. */
  payloads: Uint8Array;
  /** A variant band dequantised whole, when only part of it is output. */
  band: Uint8Array;
}

/** Fresh, empty scratch; it grows to the chunks decoded. */
export function decodeScratch(): DecodeScratch {
  return {
    planes: new Uint8Array(0),
    slots: new Int32Array(4096),
    words: new Uint16Array(0),
    payloads: new Uint8Array(0),
    band: new Uint8Array(0),
  };
}

/**
 * Produces `block` into `buffer` (at least `block.bufferBytes` long) from the stored bytes in
 * `runs`. Every chunk is checked against its XXH32 before any of its bytes is used. Throws a
 * `chunk_corrupt` ContainerError naming the tensor and chunk, never leaving a wrong byte unnoticed.
 *
 * @example
 * ```ts ignore
 * const buffer = new Uint8Array(block.bufferBytes);
 * decodeBlock(block, [{ start, bytes }], buffer, portableBackends, decodeScratch());
 * const output = buffer.subarray(0, block.length);
 * ```
 */
export function decodeBlock(
  block: Block,
  runs: readonly StoredRun[],
  buffer: Uint8Array,
  backends: Backends,
  scratch: DecodeScratch,
): void {
  for (const l of block.literals) buffer.set(l.bytes, l.at);
  if (block.variants) decodeVariants(block, runs, buffer, backends, scratch);
  const jobs = block.jobs, n = jobs.length;
  if (n === 0) return;
  // Which run holds each job: runs and jobs are both in container order, mostly.
  const runOf = new Int32Array(n);
  for (let k = 0, r = 0; k < n; k++) {
    const j = jobs[k];
    if (!inRun(runs[r], j)) r = runs.findIndex((run) => inRun(run, j));
    if (r < 0) throw new RangeError(`no stored run holds chunk ${j.index} of "${j.tensor}"`);
    runOf[k] = r;
  }
  if (block.verifyStored) {
    for (let k = 0; k < n; k++) {
      const j = jobs[k], run = runs[runOf[k]], from = j.offset - run.start;
      const sum = xxh32(run.bytes.subarray(from, from + j.storedLength));
      if (sum !== j.storedXxh32) {
        throw chunkFailure(
          j.tensor,
          j.index,
          j.offset,
          new CodecError(
            "checksum_mismatch",
            `stored bytes hash to ${hex8(sum)}, index says ${hex8(j.storedXxh32)}`,
          ),
        );
      }
    }
  }
  // Done by the kernel: 1 decoded, 2 decoded and scattered; failed[k] when it found the chunk bad.
  const done = new Uint8Array(n), failed = new Uint8Array(n);
  const kernel = backends.kernel;
  if (kernel) {
    for (let r = 0; r < runs.length; r++) {
      const ks: number[] = [], pieces: KernelPiece[] = [];
      for (let k = 0; k < n; k++) {
        if (runOf[k] !== r) continue;
        ks.push(k);
        pieces.push(kernelPiece(jobs[k]));
      }
      if (pieces.length === 0) continue;
      const left = kernel(runs[r].bytes, runs[r].start, pieces, buffer);
      for (let p = 0; p < ks.length; p++) {
        if (!left[p]) done[ks[p]] = pieces[p].scatter ? 2 : 1;
        else if (left[p] === KERNEL_FAILED) failed[ks[p]] = 1;
      }
    }
  }
  for (let k = 0; k < n; k++) {
    const j = jobs[k];
    if (!done[k]) {
      const run = runs[runOf[k]], from = j.offset - run.start;
      decodeOne(
        j,
        run.bytes.subarray(from, from + j.storedLength),
        buffer,
        backends,
        scratch,
        failed[k] === 1,
      );
    }
    if (j.copy && done[k] !== 2) copyRows(buffer, j.copy, buffer);
  }
}

function hex8(v: number): string {
  return v.toString(16).padStart(8, "0");
}

/**
 * Sections are ordinary chunks with their own XXH32: the backends' batch kernel decodes them
 * first, and returns false for what it leaves to the TypeScript codec (which then reports any
 * failure, so that every error comes from one place).
 */
export function kernelSection(backends: Backends): SectionDecoder | undefined {
  const kernel = backends.kernel;
  if (!kernel) return undefined;
  return (stored, layout, rawXxh32, out) =>
    out.length > 0 &&
    kernel(stored, 0, [{
        offset: 0,
        storedLength: stored.length,
        rawLength: out.length,
        rawXxh32,
        layout,
        at: 0,
      }], out)[0] === 0;
}

/**
 * The variant bands of `block`: each distinct chunk decoded once into the scratch payloads and
 * checked, then each band dequantised from them, straight into the output when all of it is
 * output, else whole into scratch and its window copied.
 */
function decodeVariants(
  block: Block,
  runs: readonly StoredRun[],
  buffer: Uint8Array,
  backends: Backends,
  scratch: DecodeScratch,
): void {
  const bands = block.variants!;
  // Each distinct chunk's place in the payload scratch, by container offset.
  const at = new Map<number, number>();
  let total = 0;
  for (const v of bands) {
    for (const ch of v.chunks) {
      if (!at.has(ch.offset)) at.set(ch.offset, total), total += ch.rawLength;
    }
  }
  if (scratch.payloads.length < total) scratch.payloads = new Uint8Array(total);
  const decodeSection = kernelSection(backends);
  const sections = new Map<number, Uint8Array[]>();
  for (const v of bands) {
    const mine = new Map<number, readonly Uint8Array[]>();
    for (const ch of v.chunks) {
      let parts = sections.get(ch.offset);
      if (!parts) {
        const run = runs.find((r) => inRun(r, ch));
        if (!run) {
          throw new RangeError(`no stored run holds variant chunk ${ch.index} of "${v.tensor}"`);
        }
        const from = ch.offset - run.start, to = at.get(ch.offset)!;
        try {
          parts = decodeVariantChunk(
            v.layout,
            v.dtype,
            ch.index,
            ch,
            run.bytes.subarray(from, from + ch.storedLength),
            {
              decodeSection,
              zstdDecompress: backends.zstd,
              out: scratch.payloads.subarray(to, to + ch.rawLength),
              verifyStored: block.verifyStored,
            },
          );
        } catch (e) {
          throw chunkFailure(v.tensor, ch.index, ch.offset, e);
        }
        sections.set(ch.offset, parts);
      }
      mine.set(ch.index, parts);
    }
    dequantiseBand(v, mine, buffer, scratch);
  }
}

/**
 * Dequantises band `v` from its chunks' sections and writes its window into `buffer`; a band
 * without a rectangle is its chunk's payload, copied as it is.
 */
function dequantiseBand(
  v: VariantJob,
  sections: ReadonlyMap<number, readonly Uint8Array[]>,
  buffer: Uint8Array,
  scratch: DecodeScratch,
): void {
  const r = v.rect;
  if (!r) {
    const parts = sections.get(v.chunks[0].index)!;
    // The sections are views of one payload, back to back.
    const first = parts[0],
      payload = new Uint8Array(
        first.buffer,
        first.byteOffset,
        v.chunks[0].rawLength,
      );
    buffer.set(payload.subarray(v.skip, v.skip + v.length), v.at);
    return;
  }
  const bytes = (r.r1 - r.r0) * (r.c1 - r.c0) * dtypeWidth(v.dtype);
  const whole = v.skip === 0 && v.length === bytes;
  if (!whole && scratch.band.length < bytes) scratch.band = new Uint8Array(bytes);
  const out = whole ? buffer.subarray(v.at, v.at + bytes) : scratch.band.subarray(0, bytes);
  try {
    dequantiseRegion(v.layout, v.dtype, v.shape, r, (i) => sections.get(i)!, out);
  } catch (e) {
    // A ternary code the format does not define is found only while dequantising.
    throw chunkFailure(v.tensor, v.chunks[0]?.index ?? 0, v.chunks[0]?.offset ?? 0, e);
  }
  if (!whole) buffer.set(out.subarray(v.skip, v.skip + v.length), v.at);
}

function inRun(
  run: StoredRun | undefined,
  j: { readonly offset: number; readonly storedLength: number },
): boolean {
  return run !== undefined && j.offset >= run.start &&
    j.offset + j.storedLength <= run.start + run.bytes.length;
}

/**
 * The batch kernel's piece for chunk job `j`, stored at its container offset, with the kernel's
 * scatter where it applies. Shared with the native unpack (src/threads/native_unpack.ts), which
 * fills the kernel's table itself.
 */
export function kernelPiece(j: ChunkJob): KernelPiece {
  return {
    offset: j.offset,
    storedLength: j.storedLength,
    rawLength: j.rawLength,
    rawXxh32: j.rawXxh32,
    layout: j.layout,
    at: j.at,
    scatter: kernelScatter(j),
  };
}

/** The kernel's scatter for a copy of whole tile rows that nothing clips; else undefined. */
function kernelScatter(j: ChunkJob): KernelPiece["scatter"] {
  const c = j.copy;
  if (!c || c.src !== j.at || c.bytes !== c.srcStride || c.rows * c.bytes !== j.rawLength) {
    return undefined;
  }
  if (c.dst < c.clipFrom || c.dst + (c.rows - 1) * c.dstStride + c.bytes > c.clipTo) {
    return undefined;
  }
  return { rowBytes: c.bytes, stride: c.dstStride, target: c.dst };
}

/** Decodes one chunk with the TypeScript codec; a chunk the kernel failed is also checked stored. */
function decodeOne(
  j: ChunkJob,
  stored: Uint8Array,
  buffer: Uint8Array,
  backends: Backends,
  scratch: DecodeScratch,
  kernelFailed: boolean,
): void {
  const need = scratchBytes(j.rawLength);
  if (scratch.planes.length < need) scratch.planes = new Uint8Array(need);
  if (scratch.words.length < j.rawLength) scratch.words = new Uint16Array(j.rawLength);
  try {
    decodeChunk(
      stored,
      {
        storedLength: j.storedLength,
        rawLength: j.rawLength,
        storedXxh32: j.storedXxh32,
        rawXxh32: j.rawXxh32,
      },
      j.layout,
      buffer.subarray(j.at, j.at + j.rawLength),
      {
        zstdDecompress: backends.zstd,
        scratch: scratch.planes,
        slots: scratch.slots,
        words: scratch.words,
        // Storage corruption, rather than a decoder fault, is what a kernel failure usually means:
        // the stored checksum tells which.
        verifyStored: kernelFailed,
      },
    );
  } catch (e) {
    throw chunkFailure(j.tensor, j.index, j.offset, e);
  }
}

/**
 * Copies the rows `c` describes from `src` into `dst`, writing only `dst[c.clipFrom, c.clipTo)`.
 *
 * @example
 * ```ts
 * import { copyRows } from "./decode_block.ts";
 * const tile = Uint8Array.of(1, 2, 3, 4), out = new Uint8Array(4);
 * copyRows(tile, { src: 0, srcStride: 2, rows: 2, bytes: 2, dst: 0, dstStride: 2, clipFrom: 0, clipTo: 4 }, out);
 * ```
 */
export function copyRows(src: Uint8Array, c: RowCopy, dst: Uint8Array): void {
  let s = c.src, d = c.dst;
  for (let r = 0; r < c.rows; r++, s += c.srcStride, d += c.dstStride) {
    const a = Math.max(d, c.clipFrom), b = Math.min(d + c.bytes, c.clipTo);
    if (a < b) dst.set(src.subarray(s + (a - d), s + (b - d)), a);
  }
}
