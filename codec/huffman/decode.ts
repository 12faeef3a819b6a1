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

/** Decodes `src` (code lengths, stream sizes, streams) into `out`, whose length is the symbol count. */
export function huffmanDecode(src: Uint8Array, out: Uint8Array): void {
  const { table, bounds } = readHuffman(src);
  for (let k = 0; k < STREAMS; k++) {
    let p = bounds[k], acc = 0, bits = 0, used = 0;
    const end = bounds[k + 1];
    for (let i = k; i < out.length; i += STREAMS) {
      // Past the end the stream reads as zero bytes; the length check below then fails.
      while (bits <= 24) acc |= (p < end ? src[p] : 0) << bits, p++, bits += 8;
      const e = table[acc & MASK], l = e >> 8;
      out[i] = e;
      acc >>>= l, bits -= l, used += l;
    }
    checkEnd(src, bounds[k], end, used, k);
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
