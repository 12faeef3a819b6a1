/**
 * Decoder of context rANS planes (codec 6, docs/FORMAT.md "Context rANS"): static rANS whose
 * frequency table is chosen, symbol by symbol, by the class of a context byte already decoded (the
 * previous byte of the same lane, the byte a row up, or the byte of the plane above). Imports nothing from the
 * encoder. Browser-safe.
 * @module
 */
import { CodecError } from "../errors.ts";
import { LANES, SCALE_BITS, SCALE_TOTAL, STATE_LOW } from "../rans/constants.ts";
import { readTable } from "../rans/table_read.ts";
import { readContextHeader, SOURCE_PLANE_ABOVE, SOURCE_PREVIOUS } from "./format.ts";

const MASK = SCALE_TOTAL - 1;

/**
 * Decodes the context rANS payload `src` into `out` (the plane's `n` bytes). `above` is the decoded
 * plane `p + 1`, which the plane-above source reads. Throws {@link CodecError} on any malformed
 * payload.
 */
export function contextDecode(src: Uint8Array, out: Uint8Array, above?: Uint8Array): void {
  const n = out.length;
  const [h, tablesAt] = readContextHeader(src, above !== undefined && above.length === n);
  // One 4096-entry lookup per class, as rANS builds it: frequency << 20 | offset << 8 | symbol.
  const slots = new Int32Array(h.classes * SCALE_TOTAL), freqs = new Uint16Array(256);
  let p = tablesAt;
  for (let c = 0; c < h.classes; c++) {
    p = readTable(src, p, freqs);
    for (let s = 0, begin = c * SCALE_TOTAL; s < 256; s++) {
      const f = freqs[s];
      for (let j = 0; j < f; j++) slots[begin + j] = (f << 20) | (j << 8) | s;
      begin += f;
    }
  }
  if (p + LANES * 4 > src.length) throw new CodecError("truncated", "context states are cut off");
  const x = new Int32Array(LANES);
  for (let k = 0; k < LANES; k++, p += 4) {
    x[k] = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24);
    if (x[k] < STATE_LOW) throw new CodecError("corrupt", "context initial states out of range");
  }
  if ((src.length - p) & 1) throw new CodecError("corrupt", "context stream has an odd byte count");
  const count = (src.length - p) >> 1;
  // The class of each possible context byte, shift and key map folded into one lookup; tables
  // are numbered by class, so the class times 4096 is the table's first slot.
  const tableOf = new Int32Array(256);
  for (let b = 0; b < 256; b++) tableOf[b] = h.classOfKey[b >> h.shift] << SCALE_BITS;
  const ctx = h.source === SOURCE_PLANE_ABOVE ? above! : out;
  const back = h.source === SOURCE_PREVIOUS ? LANES : h.source === SOURCE_PLANE_ABOVE ? 0 : h.cols;
  let q = 0;
  for (let i = 0; i < n; i++) {
    const b = i >= back ? ctx[i - back] : 0, lane = i & 3;
    let v = x[lane];
    const e = slots[tableOf[b] | (v & MASK)];
    v = (e >>> 20) * (v >>> SCALE_BITS) + ((e >>> 8) & MASK);
    if (v < STATE_LOW) {
      v = (v << 16) | (q < count ? src[p + 2 * q] | (src[p + 2 * q + 1] << 8) : 0);
      q++;
    }
    x[lane] = v;
    out[i] = e & 0xff;
  }
  if (q !== count) {
    throw new CodecError(
      q > count ? "truncated" : "corrupt",
      `context stream holds ${count} words but decoding used ${q}`,
    );
  }
  if (x[0] !== STATE_LOW || x[1] !== STATE_LOW || x[2] !== STATE_LOW || x[3] !== STATE_LOW) {
    throw new CodecError("corrupt", "context final states do not return to their initial value");
  }
}
