/**
 * Builds and serialises rANS frequency tables (docs/FORMAT.md, "Frequency tables").
 * Browser-safe.
 * @module
 */
import { MAX_RICE_K, SCALE_BITS, SCALE_TOTAL } from "./constants.ts";

/** Counts each byte value of `src` into `counts` (256 entries, zeroed here). */
export function countSymbols(src: Uint8Array, counts: Uint32Array): void {
  counts.fill(0);
  for (let i = 0; i < src.length; i++) counts[src[i]]++;
}

/**
 * Scales `counts` to frequencies summing to `SCALE_TOTAL`, every present symbol at least 1.
 * Needs at least two distinct symbols.
 */
export function normalizeCounts(counts: Uint32Array, freqs: Uint16Array): void {
  let total = 0;
  for (let s = 0; s < 256; s++) total += counts[s];
  let sum = 0, largest = 0;
  for (let s = 0; s < 256; s++) {
    const c = counts[s];
    freqs[s] = c === 0 ? 0 : Math.max(1, Math.round((c * SCALE_TOTAL) / total));
    sum += freqs[s];
    if (freqs[s] > freqs[largest]) largest = s;
  }
  // Rounding leaves the sum a little off; taking it from the symbols with the most slack costs
  // the least, and the largest can always absorb a surplus.
  let excess = sum - SCALE_TOTAL;
  while (excess > 0) {
    let best = -1, bestCost = Infinity;
    for (let s = 0; s < 256; s++) {
      if (freqs[s] > 1) {
        const cost = counts[s] * Math.log2(freqs[s] / (freqs[s] - 1));
        if (cost < bestCost) bestCost = cost, best = s;
      }
    }
    const step = Math.min(excess, Math.max(1, freqs[best] >> 6));
    freqs[best] -= step;
    excess -= step;
  }
  if (excess < 0) freqs[largest] -= excess;
}

/** Bytes {@link writeTable} needs at most. */
// The optimal Rice parameter never costs more than k = 12, which spends 13 bits a frequency.
export const MAX_TABLE_BYTES = 2 + 32 + Math.ceil((255 * (1 + MAX_RICE_K)) / 8);

/** Serialises `freqs` (summing to `SCALE_TOTAL`, two or more symbols) at `pos`; returns the end. */
export function writeTable(freqs: Uint16Array, out: Uint8Array, pos: number): number {
  const symbols: number[] = [];
  for (let s = 0; s < 256; s++) if (freqs[s] > 0) symbols.push(s);
  const count = symbols.length;
  let k = 0, bestBits = Infinity;
  for (let kk = 0; kk <= SCALE_BITS; kk++) {
    let bits = 0;
    for (let i = 0; i < count - 1; i++) bits += ((freqs[symbols[i]] - 1) >> kk) + 1 + kk;
    if (bits < bestBits) bestBits = bits, k = kk;
  }
  const bitmap = count > 32;
  out[pos] = (bitmap ? 1 : 0) | (k << 4);
  out[pos + 1] = count - 1;
  pos += 2;
  if (bitmap) {
    out.fill(0, pos, pos + 32);
    for (const s of symbols) out[pos + (s >> 3)] |= 1 << (s & 7);
    pos += 32;
  } else {
    for (const s of symbols) out[pos++] = s;
  }
  let bitPos = pos * 8;
  out.fill(0, pos, pos + ((bestBits + 7) >> 3));
  for (let i = 0; i < count - 1; i++) {
    const v = freqs[symbols[i]] - 1;
    for (let q = v >> k; q > 0; q--, bitPos++) out[bitPos >> 3] |= 1 << (bitPos & 7);
    bitPos++;
    for (let b = 0; b < k; b++, bitPos++) {
      if ((v >> b) & 1) out[bitPos >> 3] |= 1 << (bitPos & 7);
    }
  }
  return (bitPos + 7) >> 3;
}
