/**
 * Canonical Huffman codes from code lengths, shared by the encoder and decoder. Browser-safe.
 * @module
 */
import { CodecError } from "../errors.ts";
import { MAX_BITS } from "./constants.ts";

/**
 * Canonical codes for `lengths` (0 = symbol absent), bit-reversed so that they are written and read
 * least significant bit first. Throws unless the code is complete: at least two symbols and a Kraft
 * sum of exactly one, so that every table entry decodes.
 */
export function canonicalCodes(lengths: Uint8Array): Uint16Array {
  const perLength = new Uint16Array(MAX_BITS + 1);
  let kraft = 0, symbols = 0;
  for (let s = 0; s < lengths.length; s++) {
    const l = lengths[s];
    if (l === 0) continue;
    if (l > MAX_BITS) {
      throw new CodecError("corrupt", `Huffman code length ${l} exceeds ${MAX_BITS}`);
    }
    perLength[l]++;
    kraft += 1 << (MAX_BITS - l);
    symbols++;
  }
  if (symbols < 2 || kraft !== 1 << MAX_BITS) {
    throw new CodecError("corrupt", "Huffman code lengths do not form a complete code");
  }
  const next = new Uint16Array(MAX_BITS + 2);
  for (let l = 1, code = 0; l <= MAX_BITS; l++) {
    code = (code + perLength[l - 1]) << 1;
    next[l] = code;
  }
  const codes = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) {
    const l = lengths[s];
    if (l === 0) continue;
    let c = next[l]++, r = 0;
    for (let b = 0; b < l; b++, c >>= 1) r = (r << 1) | (c & 1);
    codes[s] = r;
  }
  return codes;
}
