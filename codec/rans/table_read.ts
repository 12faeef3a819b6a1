/**
 * Reads a serialised rANS frequency table (docs/FORMAT.md, "Frequency tables"). Browser-safe.
 * @module
 */
import { CodecError } from "../errors.ts";
import { MAX_RICE_K, SCALE_TOTAL } from "./constants.ts";

/** Reads a table at `pos` into `freqs` (256 entries, zeroed here); returns the offset just past it. */
export function readTable(src: Uint8Array, pos: number, freqs: Uint16Array): number {
  freqs.fill(0);
  if (pos + 2 > src.length) throw new CodecError("truncated", "frequency table header is cut off");
  const mode = src[pos] & 0x0f, k = src[pos] >> 4, count = src[pos + 1] + 1;
  pos += 2;
  if (mode > 1) throw new CodecError("unknown_codec", `frequency table mode ${mode} is not 0 or 1`);
  if (k > MAX_RICE_K) throw new CodecError("corrupt", `rice parameter ${k} exceeds ${MAX_RICE_K}`);
  if (count < 2) throw new CodecError("corrupt", "a frequency table needs at least 2 symbols");
  const symbols = new Uint8Array(count);
  if (mode === 0) {
    if (pos + count > src.length) throw new CodecError("truncated", "symbol list is cut off");
    for (let i = 0; i < count; i++) {
      symbols[i] = src[pos + i];
      if (i > 0 && symbols[i] <= symbols[i - 1]) {
        throw new CodecError("corrupt", "symbol list is not strictly ascending");
      }
    }
    pos += count;
  } else {
    if (pos + 32 > src.length) throw new CodecError("truncated", "symbol bitmap is cut off");
    let n = 0;
    for (let s = 0; s < 256; s++) {
      if (src[pos + (s >> 3)] & (1 << (s & 7))) {
        if (n === count) throw new CodecError("corrupt", "symbol bitmap has too many bits set");
        symbols[n++] = s;
      }
    }
    if (n !== count) {
      throw new CodecError("corrupt", `symbol bitmap has ${n} bits set, expected ${count}`);
    }
    pos += 32;
  }
  let bitPos = pos * 8, sum = 0;
  const endBit = src.length * 8, maxQuotient = SCALE_TOTAL >> k;
  for (let i = 0; i < count - 1; i++) {
    let q = 0;
    for (;;) {
      if (bitPos >= endBit) throw new CodecError("truncated", "frequency bits are cut off");
      const bit = (src[bitPos >> 3] >> (bitPos & 7)) & 1;
      bitPos++;
      if (bit === 0) break;
      if (++q > maxQuotient) throw new CodecError("corrupt", "frequency exceeds the table total");
    }
    if (bitPos + k > endBit) throw new CodecError("truncated", "frequency bits are cut off");
    let r = 0;
    for (let b = 0; b < k; b++, bitPos++) r |= ((src[bitPos >> 3] >> (bitPos & 7)) & 1) << b;
    const f = (q << k) + r + 1;
    sum += f;
    if (sum >= SCALE_TOTAL) {
      throw new CodecError(
        "corrupt",
        `frequencies reach ${sum}, leaving nothing of ${SCALE_TOTAL}`,
      );
    }
    freqs[symbols[i]] = f;
  }
  freqs[symbols[count - 1]] = SCALE_TOTAL - sum;
  // Padding bits must be zero, so that every table has exactly one encoding.
  if ((bitPos & 7) !== 0 && src[bitPos >> 3] >> (bitPos & 7) !== 0) {
    throw new CodecError("corrupt", "frequency table padding bits are not zero");
  }
  return (bitPos + 7) >> 3;
}
