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

// Builds the lookup and reads the four initial states; returns the offset of the first word.
function start(src: Uint8Array, slots: Int32Array, x: Int32Array): number {
  let p = buildSlots(src, slots);
  if (p + LANES * 4 > src.length) throw new CodecError("truncated", "rANS states are cut off");
  for (let lane = 0; lane < LANES; lane++, p += 4) {
    x[lane] = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24);
    if (x[lane] < STATE_LOW) {
      throw new CodecError("corrupt", "rANS initial states lie outside [2^15, 2^31)");
    }
  }
  return p;
}

// A corrupt stream can only make p run past the end (typed-array reads there yield undefined,
// which the bitwise ops turn into 0); that, and the final states, are checked once at the end.
function finish(src: Uint8Array, p: number, x: Int32Array): void {
  if (p !== src.length) {
    throw new CodecError(
      p > src.length ? "truncated" : "corrupt",
      `rANS stream ends at byte ${src.length} but decoding reached byte ${p}`,
    );
  }
  if (x[0] !== STATE_LOW || x[1] !== STATE_LOW || x[2] !== STATE_LOW || x[3] !== STATE_LOW) {
    throw new CodecError("corrupt", "rANS final states do not return to their initial value");
  }
}

/**
 * Decodes `src` (a table and a stream, exactly) into `out`, whose length is the symbol count.
 * `slots` is a reusable 4096-entry lookup table; Int32 so that every value the loop touches stays
 * a small integer for the JIT.
 */
export function ransDecode(
  src: Uint8Array,
  out: Uint8Array,
  slots: Int32Array = new Int32Array(SCALE_TOTAL),
): void {
  const x = new Int32Array(LANES);
  let p = start(src, slots, x);
  let x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
  const n = out.length, n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    let s = slots[x0 & MASK];
    out[i] = s;
    x0 = Math.imul(s >>> 20, x0 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x0 < STATE_LOW) x0 = (x0 << 16) | src[p] | (src[p + 1] << 8), p += 2;
    s = slots[x1 & MASK];
    out[i + 1] = s;
    x1 = Math.imul(s >>> 20, x1 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x1 < STATE_LOW) x1 = (x1 << 16) | src[p] | (src[p + 1] << 8), p += 2;
    s = slots[x2 & MASK];
    out[i + 2] = s;
    x2 = Math.imul(s >>> 20, x2 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x2 < STATE_LOW) x2 = (x2 << 16) | src[p] | (src[p + 1] << 8), p += 2;
    s = slots[x3 & MASK];
    out[i + 3] = s;
    x3 = Math.imul(s >>> 20, x3 >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (x3 < STATE_LOW) x3 = (x3 << 16) | src[p] | (src[p + 1] << 8), p += 2;
  }
  x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
  for (; i < n; i++) {
    let v = x[i & 3];
    const s = slots[v & MASK];
    out[i] = s;
    v = Math.imul(s >>> 20, v >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (v < STATE_LOW) v = (v << 16) | src[p] | (src[p + 1] << 8), p += 2;
    x[i & 3] = v;
  }
  finish(src, p, x);
}

/**
 * Decodes the exponent plane of a sign-moved BF16 (`width` 2) or F32 (`width` 4) chunk straight
 * into whole elements, merging the other planes as it goes: one pass instead of decode then merge,
 * which measured 1.6x faster. `dst` must be 2- or 4-byte aligned; `planes[width - 1]` is unused.
 */
export function ransDecodeMerged(
  src: Uint8Array,
  planes: Uint8Array[],
  width: 2 | 4,
  dst: Uint8Array,
  slots: Int32Array = new Int32Array(SCALE_TOTAL),
): void {
  const x = new Int32Array(LANES);
  let p = start(src, slots, x);
  const n = dst.length / width;
  const m = planes[width - 2], b1 = planes[1], b0 = planes[0];
  let x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3], s = 0, mi = 0, i = 0;
  const n4 = n & ~3;
  // One loop per width, unrolled over the lanes with the states in locals: a loop-invariant
  // branch or a state array inside the loop measured 2-3x slower.
  if (width === 2) {
    const o16 = new Uint16Array(dst.buffer, dst.byteOffset, n);
    for (; i < n4; i += 4) {
      s = slots[x0 & MASK], mi = m[i];
      o16[i] = ((mi & 0x80) << 8) | ((s & 0xff) << 7) | (mi & 0x7f);
      x0 = Math.imul(s >>> 20, x0 >> SCALE_BITS) + ((s >>> 8) & MASK);
      if (x0 < STATE_LOW) x0 = (x0 << 16) | src[p] | (src[p + 1] << 8), p += 2;
      s = slots[x1 & MASK], mi = m[i + 1];
      o16[i + 1] = ((mi & 0x80) << 8) | ((s & 0xff) << 7) | (mi & 0x7f);
      x1 = Math.imul(s >>> 20, x1 >> SCALE_BITS) + ((s >>> 8) & MASK);
      if (x1 < STATE_LOW) x1 = (x1 << 16) | src[p] | (src[p + 1] << 8), p += 2;
      s = slots[x2 & MASK], mi = m[i + 2];
      o16[i + 2] = ((mi & 0x80) << 8) | ((s & 0xff) << 7) | (mi & 0x7f);
      x2 = Math.imul(s >>> 20, x2 >> SCALE_BITS) + ((s >>> 8) & MASK);
      if (x2 < STATE_LOW) x2 = (x2 << 16) | src[p] | (src[p + 1] << 8), p += 2;
      s = slots[x3 & MASK], mi = m[i + 3];
      o16[i + 3] = ((mi & 0x80) << 8) | ((s & 0xff) << 7) | (mi & 0x7f);
      x3 = Math.imul(s >>> 20, x3 >> SCALE_BITS) + ((s >>> 8) & MASK);
      if (x3 < STATE_LOW) x3 = (x3 << 16) | src[p] | (src[p + 1] << 8), p += 2;
    }
  } else {
    const o32 = new Int32Array(dst.buffer, dst.byteOffset, n);
    for (; i < n4; i += 4) {
      s = slots[x0 & MASK], mi = m[i];
      o32[i] = ((mi & 0x80) << 24) | ((s & 0xff) << 23) | ((mi & 0x7f) << 16) | (b1[i] << 8) |
        b0[i];
      x0 = Math.imul(s >>> 20, x0 >> SCALE_BITS) + ((s >>> 8) & MASK);
      if (x0 < STATE_LOW) x0 = (x0 << 16) | src[p] | (src[p + 1] << 8), p += 2;
      s = slots[x1 & MASK], mi = m[i + 1];
      o32[i + 1] = ((mi & 0x80) << 24) | ((s & 0xff) << 23) | ((mi & 0x7f) << 16) |
        (b1[i + 1] << 8) | b0[i + 1];
      x1 = Math.imul(s >>> 20, x1 >> SCALE_BITS) + ((s >>> 8) & MASK);
      if (x1 < STATE_LOW) x1 = (x1 << 16) | src[p] | (src[p + 1] << 8), p += 2;
      s = slots[x2 & MASK], mi = m[i + 2];
      o32[i + 2] = ((mi & 0x80) << 24) | ((s & 0xff) << 23) | ((mi & 0x7f) << 16) |
        (b1[i + 2] << 8) | b0[i + 2];
      x2 = Math.imul(s >>> 20, x2 >> SCALE_BITS) + ((s >>> 8) & MASK);
      if (x2 < STATE_LOW) x2 = (x2 << 16) | src[p] | (src[p + 1] << 8), p += 2;
      s = slots[x3 & MASK], mi = m[i + 3];
      o32[i + 3] = ((mi & 0x80) << 24) | ((s & 0xff) << 23) | ((mi & 0x7f) << 16) |
        (b1[i + 3] << 8) | b0[i + 3];
      x3 = Math.imul(s >>> 20, x3 >> SCALE_BITS) + ((s >>> 8) & MASK);
      if (x3 < STATE_LOW) x3 = (x3 << 16) | src[p] | (src[p + 1] << 8), p += 2;
    }
  }
  x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
  if (i < n) {
    // The last 1-3 symbols: decode them alone and merge them with the byte-wise fallback.
    const tail = new Uint8Array(n - i);
    for (let k = 0; i + k < n; k++) {
      let v = x[k];
      const t = slots[v & MASK];
      tail[k] = t;
      v = Math.imul(t >>> 20, v >> SCALE_BITS) + ((t >>> 8) & MASK);
      if (v < STATE_LOW) v = (v << 16) | src[p] | (src[p + 1] << 8), p += 2;
      x[k] = v;
    }
    const rest = planes.map((pl) => pl.subarray(i, n));
    rest[width - 1] = tail;
    mergePlanes(rest, width, true, dst.subarray(i * width));
  }
  finish(src, p, x);
}
