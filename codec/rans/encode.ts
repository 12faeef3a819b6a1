/**
 * Order-0 rANS encoder: 4 interleaved 32-bit states, 16-bit renormalisation. Browser-safe.
 * @module
 */
import { LANES, SCALE_BITS, STATE_LOW } from "./constants.ts";
import { countSymbols, MAX_TABLE_BYTES, normalizeCounts, writeTable } from "./table_write.ts";

// A state at or above f << (31 - SCALE_BITS) would leave [2^15, 2^31) once f is coded into it.
const RENORM = 1 << (31 - SCALE_BITS);

/** Bytes {@link ransEncode} may need for `n` symbols. */
export function ransBound(n: number): number {
  return MAX_TABLE_BYTES + LANES * 4 + 2 * n + 2;
}

/**
 * Encodes `src` (two or more distinct byte values) as a frequency table followed by the rANS
 * stream, into `out` (at least `ransBound(src.length)` bytes). Returns the bytes written. `words`,
 * when it holds `src.length + 1` entries, is used as the word scratch instead of a new array.
 */
export function ransEncode(src: Uint8Array, out: Uint8Array, words?: Uint16Array): number {
  const counts = new Uint32Array(256), freqs = new Uint16Array(256), starts = new Uint16Array(256);
  countSymbols(src, counts);
  normalizeCounts(counts, freqs);
  for (let s = 1; s < 256; s++) starts[s] = starts[s - 1] + freqs[s - 1];
  const tableEnd = writeTable(freqs, out, 0);

  // Words are produced last-symbol first, so they fill a scratch area from its end.
  const n = src.length;
  if (!words || words.length < n + 1) words = new Uint16Array(n + 1);
  const end = n + 1;
  let w = end;
  const x = [STATE_LOW, STATE_LOW, STATE_LOW, STATE_LOW];
  const n4 = n & ~(LANES - 1);
  for (let i = n - 1; i >= n4; i--) {
    const s = src[i], f = freqs[s], lane = i & (LANES - 1);
    let state = x[lane];
    if (state >= f * RENORM) words[--w] = state & 0xffff, state >>>= 16;
    const q = (state / f) | 0;
    x[lane] = (q << SCALE_BITS) + (state - q * f) + starts[s];
  }
  // Locals rather than the lane array let the JIT keep the states in registers: 3x faster. States
  // stay below 2^31, so one truncating division replaces floor-divide plus modulo: 1.5x faster.
  let x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3], q = 0;
  for (let i = n4 - 4; i >= 0; i -= 4) {
    let s = src[i + 3], f = freqs[s];
    if (x3 >= f * RENORM) words[--w] = x3 & 0xffff, x3 >>>= 16;
    q = (x3 / f) | 0;
    x3 = (q << SCALE_BITS) + (x3 - q * f) + starts[s];
    s = src[i + 2], f = freqs[s];
    if (x2 >= f * RENORM) words[--w] = x2 & 0xffff, x2 >>>= 16;
    q = (x2 / f) | 0;
    x2 = (q << SCALE_BITS) + (x2 - q * f) + starts[s];
    s = src[i + 1], f = freqs[s];
    if (x1 >= f * RENORM) words[--w] = x1 & 0xffff, x1 >>>= 16;
    q = (x1 / f) | 0;
    x1 = (q << SCALE_BITS) + (x1 - q * f) + starts[s];
    s = src[i], f = freqs[s];
    if (x0 >= f * RENORM) words[--w] = x0 & 0xffff, x0 >>>= 16;
    q = (x0 / f) | 0;
    x0 = (q << SCALE_BITS) + (x0 - q * f) + starts[s];
  }
  x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
  let pos = tableEnd;
  for (let lane = 0; lane < LANES; lane++) {
    const v = x[lane];
    out[pos] = v & 0xff;
    out[pos + 1] = (v >>> 8) & 0xff;
    out[pos + 2] = (v >>> 16) & 0xff;
    out[pos + 3] = (v >>> 24) & 0xff;
    pos += 4;
  }
  for (; w < end; w++) {
    out[pos++] = words[w] & 0xff;
    out[pos++] = words[w] >> 8;
  }
  return pos;
}
