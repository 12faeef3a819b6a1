/**
 * Huffman decoder, the inverse of `encode.ts` without depending on it. Browser-safe.
 * @module
 */
import { CodecError } from "../errors.ts";
import { canonicalCodes } from "./code.ts";
import { MAX_BITS, STREAMS } from "./constants.ts";

const MASK = (1 << MAX_BITS) - 1;

/** A parsed Huffman payload: its lookup table and the byte range of each stream. */
export interface HuffmanStreams {
  /** `1 << MAX_BITS` entries: symbol | length << 8. */
  readonly table: Uint16Array;
  /** Start offset of each stream in the payload, then the payload length. */
  readonly bounds: number[];
}

/** Reads the code lengths and stream sizes at the start of `src`; builds the lookup table. */
export function readHuffman(src: Uint8Array): HuffmanStreams {
  if (src.length < 1) throw new CodecError("truncated", "Huffman payload is empty");
  const maxSymbol = src[0], lengthBytes = (maxSymbol >> 1) + 1;
  let pos = 1 + lengthBytes;
  if (pos + 4 * (STREAMS - 1) > src.length) {
    throw new CodecError("truncated", "Huffman code lengths or stream sizes are cut off");
  }
  const lengths = new Uint8Array(maxSymbol + 1);
  for (let s = 0; s <= maxSymbol; s++) {
    lengths[s] = (src[1 + (s >> 1)] >> ((s & 1) * 4)) & 0x0f;
  }
  if ((maxSymbol & 1) === 0 && src[1 + (maxSymbol >> 1)] >> 4 !== 0) {
    throw new CodecError("corrupt", "Huffman length padding is not zero");
  }
  if (lengths[maxSymbol] === 0) throw new CodecError("corrupt", "Huffman max symbol is absent");
  const codes = canonicalCodes(lengths);
  const table = new Uint16Array(1 << MAX_BITS);
  for (let s = 0; s <= maxSymbol; s++) {
    const l = lengths[s];
    for (let c = codes[s]; l > 0 && c <= MASK; c += 1 << l) table[c] = s | (l << 8);
  }
  const bounds: number[] = [];
  let start = pos + 4 * (STREAMS - 1);
  for (let k = 0; k < STREAMS - 1; k++, pos += 4) {
    bounds.push(start);
    start += (src[pos] | (src[pos + 1] << 8) | (src[pos + 2] << 16) | (src[pos + 3] << 24)) >>> 0;
  }
  if (start > src.length) throw new CodecError("truncated", "Huffman streams are cut off");
  bounds.push(start, src.length);
  return { table, bounds };
}

/**
 * The pair table: for each 11 bits, the first code's symbol and, when the next code fits in the
 * same bits, the second's: s1 | s2 << 8 | bits used << 16 | symbols << 24. Exponent codes average
 * about 3 bits, so most lookups yield two symbols (7.7 to 3.5 ns per symbol on human-fp32.bf16, 2.6 with the streams in step).
 */
function pairTable(table: Uint16Array): Uint32Array {
  const pairs = new Uint32Array(1 << MAX_BITS);
  for (let x = 0; x <= MASK; x++) {
    const e1 = table[x], l1 = e1 >> 8, e2 = table[x >> l1], l2 = e2 >> 8;
    pairs[x] = l1 + l2 <= MAX_BITS
      ? (e1 & 0xff) | ((e2 & 0xff) << 8) | ((l1 + l2) << 16) | (2 << 24)
      : (e1 & 0xff) | (l1 << 16) | (1 << 24);
  }
  return pairs;
}

// Below this many symbols a pair table costs more than it saves.
const PAIRS_FROM = 256;

/** Decodes `src` (code lengths, stream sizes, streams) into `out`, whose length is the symbol count. */
export function huffmanDecode(src: Uint8Array, out: Uint8Array): void {
  const { table, bounds } = readHuffman(src);
  const n = out.length;
  const p = [bounds[0], bounds[1], bounds[2], bounds[3]], acc = [0, 0, 0, 0], bits = [0, 0, 0, 0];
  const at = [0, 1, 2, 3];
  if (n >= PAIRS_FROM) {
    const pairs = pairTable(table);
    // The four streams in step, so that their lookup chains overlap: two pair lookups per refill
    // (at least 25 bits in hand, at most 22 used), 2-4 symbols each, a stream's symbols lying 4
    // apart; a second symbol not taken is overwritten by the stream's next.
    let p0 = p[0], p1 = p[1], p2 = p[2], p3 = p[3], a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let b0 = 0, b1 = 0, b2 = 0, b3 = 0, i0 = 0, i1 = 1, i2 = 2, i3 = 3;
    // A refill reads up to 4 bytes (the first, from an empty accumulator).
    const e0 = bounds[1] - 4, e1 = bounds[2] - 4, e2 = bounds[3] - 4, e3 = bounds[4] - 4;
    const last = n - 12;
    while (
      p0 <= e0 && p1 <= e1 && p2 <= e2 && p3 <= e3 && i0 < last && i1 < last && i2 < last &&
      i3 < last
    ) {
      while (b0 <= 24) a0 |= src[p0++] << b0, b0 += 8;
      while (b1 <= 24) a1 |= src[p1++] << b1, b1 += 8;
      while (b2 <= 24) a2 |= src[p2++] << b2, b2 += 8;
      while (b3 <= 24) a3 |= src[p3++] << b3, b3 += 8;
      for (let r = 0; r < 2; r++) {
        let e = pairs[a0 & MASK], l = (e >> 16) & 0xff;
        out[i0] = e, out[i0 + 4] = e >> 8, i0 += (e >>> 24) << 2, a0 >>>= l, b0 -= l;
        e = pairs[a1 & MASK], l = (e >> 16) & 0xff;
        out[i1] = e, out[i1 + 4] = e >> 8, i1 += (e >>> 24) << 2, a1 >>>= l, b1 -= l;
        e = pairs[a2 & MASK], l = (e >> 16) & 0xff;
        out[i2] = e, out[i2 + 4] = e >> 8, i2 += (e >>> 24) << 2, a2 >>>= l, b2 -= l;
        e = pairs[a3 & MASK], l = (e >> 16) & 0xff;
        out[i3] = e, out[i3 + 4] = e >> 8, i3 += (e >>> 24) << 2, a3 >>>= l, b3 -= l;
      }
    }
    p[0] = p0, p[1] = p1, p[2] = p2, p[3] = p3, acc[0] = a0, acc[1] = a1, acc[2] = a2;
    acc[3] = a3, bits[0] = b0, bits[1] = b1, bits[2] = b2, bits[3] = b3;
    at[0] = i0, at[1] = i1, at[2] = i2, at[3] = i3;
  }
  for (let k = 0; k < STREAMS; k++) {
    const end = bounds[k + 1];
    let q = p[k], a = acc[k], b = bits[k];
    for (let i = at[k]; i < n; i += STREAMS) {
      // Past the end the stream reads as zero bytes; the length check below then fails.
      while (b <= 24) a |= (q < end ? src[q] : 0) << b, q++, b += 8;
      const e = table[a & MASK], l = e >> 8;
      out[i] = e;
      a >>>= l, b -= l;
    }
    checkEnd(src, bounds[k], end, (q - bounds[k]) * 8 - b, k);
  }
}

/**
 * Checks that a stream that used `used` bits is exactly `ceil(used / 8)` bytes long and that its
 * padding bits are zero, so every plane has one encoding and a truncated stream is caught.
 */
export function checkEnd(
  src: Uint8Array,
  start: number,
  end: number,
  used: number,
  k: number,
): void {
  const need = Math.ceil(used / 8);
  if (need !== end - start) {
    throw new CodecError(
      need > end - start ? "truncated" : "corrupt",
      `Huffman stream ${k} holds ${end - start} bytes but decoding used ${need}`,
    );
  }
  if ((used & 7) !== 0 && src[end - 1] >> (used & 7) !== 0) {
    throw new CodecError("corrupt", `Huffman stream ${k} padding bits are not zero`);
  }
}
