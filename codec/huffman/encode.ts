/**
 * Huffman encoder: length-limited canonical code, 4 interleaved bit streams (docs/FORMAT.md,
 * "Huffman"). Browser-safe.
 * @module
 */
import { canonicalCodes } from "./code.ts";
import { MAX_BITS, STREAMS } from "./constants.ts";

/** Bytes {@link huffmanEncode} may need for `n` symbols. */
export function huffmanBound(n: number): number {
  return 1 + 128 + 4 * (STREAMS - 1) + Math.ceil((n * MAX_BITS) / 8) + STREAMS;
}

/**
 * Optimal code lengths for `counts`, limited to MAX_BITS by halving the counts (keeping every
 * present symbol at least 1) until the limit holds: the few rare symbols this lengthens cost
 * little, and the loop is short and exact.
 */
export function codeLengths(counts: Uint32Array): Uint8Array {
  const work = Uint32Array.from(counts);
  for (;;) {
    const lengths = huffmanLengths(work);
    let max = 0;
    for (let s = 0; s < 256; s++) max = Math.max(max, lengths[s]);
    if (max <= MAX_BITS) return lengths;
    for (let s = 0; s < 256; s++) if (work[s] > 0) work[s] = Math.max(1, work[s] >>> 1);
  }
}

// Huffman over the present symbols (at least two) by the two-queue method: leaves sorted once by
// (count, symbol), joined nodes queued in creation order, which is already sorted because joins
// come out in non-decreasing weight. Each join takes the two lightest heads, ties to the lower
// node index (leaves first, in symbol order), so the code is deterministic.
function huffmanLengths(counts: Uint32Array): Uint8Array {
  const weight: number[] = [], parent: number[] = [], leaf: number[] = [];
  for (let s = 0; s < 256; s++) {
    if (counts[s] > 0) leaf.push(s), weight.push(counts[s]), parent.push(-1);
  }
  const leaves = weight.map((_, i) => i).sort((a, b) => weight[a] - weight[b] || a - b);
  const joined: number[] = [];
  let li = 0, ji = 0;
  const lighter = () => {
    if (ji >= joined.length) return leaves[li++];
    if (li >= leaves.length) return joined[ji++];
    const a = leaves[li], b = joined[ji];
    return weight[a] < weight[b] || (weight[a] === weight[b] && a < b)
      ? leaves[li++]
      : joined[ji++];
  };
  for (let joins = leaves.length - 1; joins > 0; joins--) {
    const a = lighter(), b = lighter(), node = weight.length;
    weight.push(weight[a] + weight[b]), parent.push(-1);
    parent[a] = node, parent[b] = node;
    joined.push(node);
  }
  const lengths = new Uint8Array(256);
  for (let i = 0; i < leaf.length; i++) {
    let d = 0;
    for (let v = i; parent[v] !== -1; v = parent[v]) d++;
    lengths[leaf[i]] = d;
  }
  return lengths;
}

/**
 * Encodes `src` (two or more distinct byte values, counted in `counts`) into `out` (at least
 * `huffmanBound(src.length)` bytes). Returns the bytes written.
 */
export function huffmanEncode(src: Uint8Array, counts: Uint32Array, out: Uint8Array): number {
  const lengths = codeLengths(counts);
  const codes = canonicalCodes(lengths);
  let maxSymbol = 0;
  for (let s = 0; s < 256; s++) if (lengths[s] > 0) maxSymbol = s;
  out[0] = maxSymbol;
  let pos = 1;
  for (let s = 0; s <= maxSymbol; s += 2) {
    out[pos++] = lengths[s] | ((s + 1 <= maxSymbol ? lengths[s + 1] : 0) << 4);
  }
  const sizesAt = pos;
  pos += 4 * (STREAMS - 1);
  for (let k = 0; k < STREAMS; k++) {
    const start = pos;
    let acc = 0, bits = 0;
    for (let i = k; i < src.length; i += STREAMS) {
      const s = src[i];
      acc |= codes[s] << bits;
      bits += lengths[s];
      while (bits >= 8) out[pos++] = acc & 0xff, acc >>>= 8, bits -= 8;
    }
    if (bits > 0) out[pos++] = acc & 0xff;
    if (k < STREAMS - 1) {
      const size = pos - start;
      for (let b = 0; b < 4; b++) out[sizesAt + 4 * k + b] = (size >>> (8 * b)) & 0xff;
    }
  }
  return pos;
}
