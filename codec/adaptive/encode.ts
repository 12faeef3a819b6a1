/**
 * Encoder of adaptive planes (codec 5, docs/FORMAT.md "Adaptive planes"). It runs the shared model
 * forwards in the decoder's order, recording each symbol's slot range, then codes the symbols
 * backwards with rANS so that the decoder reads them forwards. Browser-safe.
 * @module
 */
import {
  CDF_STRIDE,
  LOW_ADAPTIVE,
  MODEL_BYTE,
  MODEL_MANTISSA,
  MODEL_RANK,
  PROB_BITS,
  STATE_LOW,
  SYMBOLS,
} from "./constants.ts";
import { type AdaptiveHeader, headerBytes, writeHeader } from "./header.ts";
import {
  contextClass,
  forward,
  freshHistory,
  freshTables,
  type History,
  remember,
  segmentStart,
  type Tables,
  update,
} from "./model.ts";

/** Reusable buffers of {@link adaptiveEncode}, grown as needed. */
export interface AdaptiveScratch {
  /** Lane of each symbol, in decode order. */
  lane: Uint8Array;
  /** Start of each symbol's slot range. */
  start: Uint16Array;
  /** Width of each symbol's slot range (its frequency). */
  freq: Uint16Array;
  /** Stream bytes, written from the end. */
  bytes: Uint8Array;
}

/** Empty scratch. */
export function adaptiveScratch(): AdaptiveScratch {
  return {
    lane: new Uint8Array(0),
    start: new Uint16Array(0),
    freq: new Uint16Array(0),
    bytes: new Uint8Array(0),
  };
}

/** The most symbols {@link adaptiveEncode} codes for a plane of `n` bytes (an escape costs 3). */
function maxSymbols(n: number): number {
  return 3 * n;
}

/**
 * Encodes `plane` as an adaptive payload described by `h` (the mantissa model reads `above`, the
 * plane above it). Returns the payload, a fresh array.
 */
export function adaptiveEncode(
  plane: Uint8Array,
  h: AdaptiveHeader,
  above?: Uint8Array,
  scratch: AdaptiveScratch = adaptiveScratch(),
): Uint8Array {
  const n = plane.length, lanes = h.lanes, cols = h.cols, cap = maxSymbols(n);
  if (scratch.lane.length < cap) {
    scratch.lane = new Uint8Array(cap);
    scratch.start = new Uint16Array(cap);
    scratch.freq = new Uint16Array(cap);
  }
  const { lane, start, freq } = scratch;
  let count = 0;
  const tables: Tables[] = Array.from({ length: lanes }, freshTables);
  const history: History = freshHistory(h.context, lanes, cols);
  const code = (k: number, t: number, s: number) => {
    const c = tables[k].cdf, b = t * CDF_STRIDE;
    lane[count] = k;
    start[count] = c[b + s];
    freq[count++] = c[b + s + 1] - c[b + s];
    update(tables[k], t, s);
  };
  const uniform = (k: number, s: number) => {
    lane[count] = k;
    start[count] = s * ((1 << PROB_BITS) / SYMBOLS);
    freq[count++] = (1 << PROB_BITS) / SYMBOLS;
  };

  const starts = new Int32Array(lanes + 1);
  for (let k = 0; k <= lanes; k++) starts[k] = segmentStart(k, lanes, n);
  let longest = 0;
  for (let k = 0; k < lanes; k++) longest = Math.max(longest, starts[k + 1] - starts[k]);
  const rankOf = new Uint8Array(256).fill(15);
  h.values.forEach((v, i) => rankOf[v] = i);
  const eb = h.elementBytes;
  for (let t = 0; t < longest; t++) {
    for (let k = 0; k < lanes; k++) {
      const j = starts[k] + t;
      if (j >= starts[k + 1]) continue;
      if (h.model === MODEL_BYTE) {
        const col = j % cols, v = forward(h.variant, plane[j]), hi = v >> 4;
        code(k, contextClass(history, k, col), hi);
        code(k, 17 + hi, v & 15);
        remember(history, k, col, hi);
      } else if (h.model === MODEL_RANK) {
        const col = j % cols, v = plane[j], r = rankOf[v];
        code(k, contextClass(history, k, col), r);
        if (r === 15) {
          code(k, 17, v >> 4);
          code(k, 18 + (v >> 4), v & 15);
        }
        remember(history, k, col, r);
      } else if (h.model === MODEL_MANTISSA) {
        const v = plane[j];
        code(k, rankOf[above![j]], v >> 4);
        if (h.variant === LOW_ADAPTIVE) code(k, 16 + (v >> 4), v & 15);
        else uniform(k, v & 15);
      } else {
        const col = Math.floor(j / eb) % cols, v = plane[j];
        code(k, contextClass(history, k, col), v & 15);
        remember(history, k, col, v & 15);
        code(k, contextClass(history, k, col), v >> 4);
        remember(history, k, col, v >> 4);
      }
    }
  }

  // rANS, backwards, one stream per lane: the decoder pops each lane's symbols in the order
  // they were recorded. Lanes share nothing, so a decoder can run them side by side.
  const x = new Array<number>(lanes).fill(STATE_LOW);
  const bytes = scratch.bytes, ends = new Int32Array(lanes), heads = new Int32Array(lanes);
  // Lane k writes backwards from its slot's end; slots are sized by the symbols it coded.
  const symbolsOf = new Int32Array(lanes);
  for (let i = 0; i < count; i++) symbolsOf[lane[i]]++;
  for (let k = 0, at = 0; k < lanes; k++) {
    at += 2 * symbolsOf[k] + 4;
    ends[k] = heads[k] = at;
  }
  if (bytes.length < ends[lanes - 1]) scratch.bytes = new Uint8Array(ends[lanes - 1]);
  const buf = scratch.bytes;
  for (let i = count - 1; i >= 0; i--) {
    const k = lane[i], f = freq[i];
    let v = x[k], w = heads[k];
    // A state at or above f·2^16 would leave [2^23, 2^31) once f is coded into it.
    const limit = f * 65536;
    while (v >= limit) {
      buf[--w] = v & 0xff;
      v = Math.floor(v / 256);
    }
    heads[k] = w;
    const q = Math.floor(v / f);
    x[k] = q * (1 << PROB_BITS) + (v - q * f) + start[i];
  }
  const head = headerBytes(h);
  let total = head + 8 * lanes - 4;
  for (let k = 0; k < lanes; k++) total += ends[k] - heads[k];
  const out = new Uint8Array(total);
  writeHeader(h, out);
  const view = new DataView(out.buffer);
  let at = head + 8 * lanes - 4;
  for (let k = 0; k < lanes; k++) {
    view.setUint32(head + 4 * k, x[k], true);
    if (k < lanes - 1) view.setUint32(head + 4 * lanes + 4 * k, ends[k] - heads[k], true);
    out.set(buf.subarray(heads[k], ends[k]), at);
    at += ends[k] - heads[k];
  }
  return out;
}
