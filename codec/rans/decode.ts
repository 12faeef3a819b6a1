/**
 * Order-0 rANS decoder, the inverse of `encode.ts` without depending on it. Browser-safe.
 * @module
 */
import { CodecError } from "../errors.ts";
import { LANES, SCALE_BITS, SCALE_TOTAL, STATE_LOW } from "./constants.ts";
import { readTable } from "./table_read.ts";

const MASK = SCALE_TOTAL - 1;

/**
 * Decodes `src` (a table and a stream, exactly) into `out`, whose length is the symbol count.
 * `slots` is a reusable 4096-entry lookup table; Int32 so that
 * every value the loop touches stays a small integer for the JIT.
 */
export function ransDecode(
  src: Uint8Array,
  out: Uint8Array,
  slots: Int32Array = new Int32Array(SCALE_TOTAL),
): void {
  const freqs = new Uint16Array(256);
  let p = readTable(src, 0, freqs);
  // One packed lookup per symbol: frequency << 20 | (slot - start) << 8 | symbol.
  for (let s = 0, start = 0; s < 256; s++) {
    const f = freqs[s];
    for (let j = 0; j < f; j++) slots[start + j] = (f << 20) | (j << 8) | s;
    start += f;
  }
  if (p + LANES * 4 > src.length) throw new CodecError("truncated", "rANS states are cut off");
  let x0 = readState(src, p), x1 = readState(src, p + 4);
  let x2 = readState(src, p + 8), x3 = readState(src, p + 12);
  p += 16;
  const end = src.length, n = out.length, n4 = n & ~3;
  let i = 0;
  // A corrupt stream can only make p run past `end` (typed-array reads there yield undefined,
  // which the bitwise ops turn into 0); that, and the final states, are checked after the loop.
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
  const x = [x0, x1, x2, x3];
  for (; i < n; i++) {
    const lane = i & 3;
    let v = x[lane];
    const s = slots[v & MASK];
    out[i] = s;
    v = Math.imul(s >>> 20, v >> SCALE_BITS) + ((s >>> 8) & MASK);
    if (v < STATE_LOW) v = (v << 16) | src[p] | (src[p + 1] << 8), p += 2;
    x[lane] = v;
  }
  if (p !== end) {
    throw new CodecError(
      p > end ? "truncated" : "corrupt",
      `rANS stream ends at byte ${end} but decoding reached byte ${p}`,
    );
  }
  if (x[0] !== STATE_LOW || x[1] !== STATE_LOW || x[2] !== STATE_LOW || x[3] !== STATE_LOW) {
    throw new CodecError("corrupt", "rANS final states do not return to their initial value");
  }
}

function readState(src: Uint8Array, p: number): number {
  return src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24);
}
