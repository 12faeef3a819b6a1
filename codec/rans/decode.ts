/**
 * Order-0 rANS decoder, the inverse of `encode.ts` without depending on it. Browser-safe.
 * @module
 */
import { CodecError } from "../errors.ts";
import { LANES, SCALE_BITS, SCALE_TOTAL, STATE_LOW } from "./constants.ts";
import { readTable } from "./table_read.ts";
import { mergePlanes } from "../planes.ts";

const MASK = SCALE_TOTAL - 1;

/**
 * Reads the frequency table at the start of `src` and builds its 4096-entry lookup into `slots`:
 * frequency << 20 | (slot - start) << 8 | symbol, one load per decoded symbol. Returns the offset
 * of the four initial states.
 */
export function buildSlots(src: Uint8Array, slots: Int32Array): number {
  const freqs = new Uint16Array(256);
  const p = readTable(src, 0, freqs);
  for (let s = 0, begin = 0; s < 256; s++) {
    const f = freqs[s];
    for (let j = 0; j < f; j++) slots[begin + j] = (f << 20) | (j << 8) | s;
    begin += f;
  }
  return p;
}

/** The four initial states and the renormalisation words of a stream, ready to decode. */
interface Stream {
  /** Initial states of lanes 0-3. */
  readonly x: Int32Array;
  /** The 16-bit words, in decode order. */
  readonly w: Uint16Array;
  /** How many of `w` the stream holds. */
  readonly count: number;
}

// Builds the lookup, reads the states and gathers the words into a Uint16Array: one load per word
// instead of two byte loads, which measured 18% faster in the decode loop.
function start(src: Uint8Array, slots: Int32Array, words: Uint16Array | undefined): Stream {
  let p = buildSlots(src, slots);
  if (p + LANES * 4 > src.length) throw new CodecError("truncated", "rANS states are cut off");
  // Lanes 0-3 and, between decode loops, the word index.
  const x = new Int32Array(LANES + 1);
  for (let lane = 0; lane < LANES; lane++, p += 4) {
    x[lane] = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24);
    if (x[lane] < STATE_LOW) {
      throw new CodecError("corrupt", "rANS initial states lie outside [2^15, 2^31)");
    }
  }
  if ((src.length - p) & 1) throw new CodecError("corrupt", "rANS stream has an odd byte count");
  const count = (src.length - p) >> 1;
  const w = words && words.length >= count ? words : new Uint16Array(count);
  // A byte copy works at any alignment; the Uint16Array then reads little-endian words, as on
  // every browser and Deno host.
  new Uint8Array(w.buffer, w.byteOffset, 2 * count).set(src.subarray(p, p + 2 * count));
  return { x, w, count };
}

// A corrupt stream can only make the word index run past the end: reads there yield undefined
// (turned into 0 by the bitwise ops) or stale words of a larger reused buffer, and either way the
// word count below no longer matches. That, and the final states, are checked once here.
function finish(q: number, st: Stream): void {
  if (q !== st.count) {
    throw new CodecError(
      q > st.count ? "truncated" : "corrupt",
      `rANS stream holds ${st.count} words but decoding used ${q}`,
    );
  }
  const x = st.x;
  if (x[0] !== STATE_LOW || x[1] !== STATE_LOW || x[2] !== STATE_LOW || x[3] !== STATE_LOW) {
    throw new CodecError("corrupt", "rANS final states do not return to their initial value");
  }
}

// Decodes symbols i.. n-1 one at a time (the last 1-3) into `out`, continuing from `q`.
function decodeTail(st: Stream, slots: Int32Array, out: Uint8Array, i: number, q: number): number {
  const x = st.x, w = st.w;
  for (; i < out.length; i++) {
    let v = x[i & 3];
    const s = slots[v & MASK];
    out[i] = s;
    v = Math.imul(s >>> 20, v >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (v < STATE_LOW) v = (v << 16) | w[q++];
    x[i & 3] = v;
  }
  return q;
}

/**
 * Decodes `src` (a table and a stream, exactly) into `out`, whose length is the symbol count.
 * `slots` is a reusable 4096-entry lookup table (Int32, so every value the loop touches stays a
 * small integer for the JIT); `words` optionally a reusable buffer of at least one entry per symbol.
 */
export function ransDecode(
  src: Uint8Array,
  out: Uint8Array,
  slots: Int32Array = new Int32Array(SCALE_TOTAL),
  words?: Uint16Array,
): void {
  const st = start(src, slots, words), w = st.w;
  let x0 = st.x[0], x1 = st.x[1], x2 = st.x[2], x3 = st.x[3], s = 0, q = 0, i = 0;
  const n4 = out.length & ~3;
  for (; i < n4; i += 4) {
    s = slots[x0 & MASK];
    out[i] = s;
    x0 = Math.imul(s >>> 20, x0 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x0 < STATE_LOW) x0 = (x0 << 16) | w[q++];
    s = slots[x1 & MASK];
    out[i + 1] = s;
    x1 = Math.imul(s >>> 20, x1 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x1 < STATE_LOW) x1 = (x1 << 16) | w[q++];
    s = slots[x2 & MASK];
    out[i + 2] = s;
    x2 = Math.imul(s >>> 20, x2 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x2 < STATE_LOW) x2 = (x2 << 16) | w[q++];
    s = slots[x3 & MASK];
    out[i + 3] = s;
    x3 = Math.imul(s >>> 20, x3 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x3 < STATE_LOW) x3 = (x3 << 16) | w[q++];
  }
  st.x[0] = x0, st.x[1] = x1, st.x[2] = x2, st.x[3] = x3;
  finish(decodeTail(st, slots, out, i, q), st);
}

/**
 * Decodes the exponent plane of a sign-moved BF16 (`width` 2) or F32 (`width` 4) chunk straight
 * into whole elements, merging the other planes as it goes: one pass instead of decode then merge.
 * `dst` must be 2- or 4-byte aligned; `planes[width - 1]` is unused.
 */
export function ransDecodeMerged(
  src: Uint8Array,
  planes: Uint8Array[],
  width: 2 | 4,
  dst: Uint8Array,
  slots: Int32Array = new Int32Array(SCALE_TOTAL),
  words?: Uint16Array,
): void {
  const st = start(src, slots, words);
  const n = dst.length / width, n4 = n & ~3;
  const m = planes[width - 2], b1 = planes[1], b0 = planes[0];
  let q = 0, i = 0;
  // One small function per width, unrolled over the lanes with the states in locals: a
  // loop-invariant branch, a state array, or two loops in one function measured 20-200% slower.
  if (width === 2) {
    i = mergedTwo(st, slots, m, new Uint16Array(dst.buffer, dst.byteOffset, n), n4);
  } else {
    i = mergedFour(st, slots, m, b1, b0, new Int32Array(dst.buffer, dst.byteOffset, n), n4);
  }
  q = st.x[4];
  if (i < n) {
    // The last 1-3 elements: decode their exponents alone and merge them byte-wise.
    const tail = new Uint8Array(n);
    q = decodeTail(st, slots, tail, i, q);
    const rest = planes.map((pl) => pl.subarray(i, n));
    rest[width - 1] = tail.subarray(i, n);
    mergePlanes(rest, width, true, dst.subarray(i * width));
  }
  finish(q, st);
}

// Decodes whole groups of 4 elements (n4) of a BF16 chunk; leaves the states and the word index
// in st.x[0..4]. Returns n4.
function mergedTwo(
  st: Stream,
  slots: Int32Array,
  m: Uint8Array,
  o16: Uint16Array,
  n4: number,
): number {
  const w = st.w;
  let x0 = st.x[0], x1 = st.x[1], x2 = st.x[2], x3 = st.x[3], s = 0, mi = 0, q = 0, i = 0;
  for (; i < n4; i += 4) {
    s = slots[x0 & MASK];
    mi = m[i];
    o16[i] = ((mi & 0x80) << 8) | ((s & 0xff) << 7) | (mi & 0x7f);
    x0 = Math.imul(s >>> 20, x0 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x0 < STATE_LOW) x0 = (x0 << 16) | w[q++];
    s = slots[x1 & MASK];
    mi = m[i + 1];
    o16[i + 1] = ((mi & 0x80) << 8) | ((s & 0xff) << 7) | (mi & 0x7f);
    x1 = Math.imul(s >>> 20, x1 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x1 < STATE_LOW) x1 = (x1 << 16) | w[q++];
    s = slots[x2 & MASK];
    mi = m[i + 2];
    o16[i + 2] = ((mi & 0x80) << 8) | ((s & 0xff) << 7) | (mi & 0x7f);
    x2 = Math.imul(s >>> 20, x2 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x2 < STATE_LOW) x2 = (x2 << 16) | w[q++];
    s = slots[x3 & MASK];
    mi = m[i + 3];
    o16[i + 3] = ((mi & 0x80) << 8) | ((s & 0xff) << 7) | (mi & 0x7f);
    x3 = Math.imul(s >>> 20, x3 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x3 < STATE_LOW) x3 = (x3 << 16) | w[q++];
  }
  st.x[0] = x0, st.x[1] = x1, st.x[2] = x2, st.x[3] = x3, st.x[4] = q;
  return i;
}

// As mergedTwo, for F32 chunks.
function mergedFour(
  st: Stream,
  slots: Int32Array,
  m: Uint8Array,
  b1: Uint8Array,
  b0: Uint8Array,
  o32: Int32Array,
  n4: number,
): number {
  const w = st.w;
  let x0 = st.x[0], x1 = st.x[1], x2 = st.x[2], x3 = st.x[3], s = 0, mi = 0, q = 0, i = 0;
  for (; i < n4; i += 4) {
    s = slots[x0 & MASK];
    mi = m[i];
    o32[i] = ((mi & 0x80) << 24) | ((s & 0xff) << 23) | ((mi & 0x7f) << 16) | (b1[i] << 8) |
      b0[i];
    x0 = Math.imul(s >>> 20, x0 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x0 < STATE_LOW) x0 = (x0 << 16) | w[q++];
    s = slots[x1 & MASK];
    mi = m[i + 1];
    o32[i + 1] = ((mi & 0x80) << 24) | ((s & 0xff) << 23) | ((mi & 0x7f) << 16) |
      (b1[i + 1] << 8) | b0[i + 1];
    x1 = Math.imul(s >>> 20, x1 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x1 < STATE_LOW) x1 = (x1 << 16) | w[q++];
    s = slots[x2 & MASK];
    mi = m[i + 2];
    o32[i + 2] = ((mi & 0x80) << 24) | ((s & 0xff) << 23) | ((mi & 0x7f) << 16) |
      (b1[i + 2] << 8) | b0[i + 2];
    x2 = Math.imul(s >>> 20, x2 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x2 < STATE_LOW) x2 = (x2 << 16) | w[q++];
    s = slots[x3 & MASK];
    mi = m[i + 3];
    o32[i + 3] = ((mi & 0x80) << 24) | ((s & 0xff) << 23) | ((mi & 0x7f) << 16) |
      (b1[i + 3] << 8) | b0[i + 3];
    x3 = Math.imul(s >>> 20, x3 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x3 < STATE_LOW) x3 = (x3 << 16) | w[q++];
  }
  st.x[0] = x0, st.x[1] = x1, st.x[2] = x2, st.x[3] = x3, st.x[4] = q;
  return i;
}
