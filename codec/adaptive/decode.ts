/**
 * Decoder of adaptive planes (codec 5, docs/FORMAT.md "Adaptive planes"): nibble symbols coded
 * with rANS under cumulative tables that adapt after every symbol, in up to four independent
 * segments with a byte stream each. Imports nothing from the encoder. Browser-safe.
 * @module
 */
import { CodecError } from "../errors.ts";
import {
  CDF_STRIDE,
  LOW_ADAPTIVE,
  MODEL_BYTE,
  MODEL_MANTISSA,
  MODEL_RANK,
  PROB_BITS,
  RATE_MIN,
  RATE_WARMUP,
  STATE_LOW,
  SYMBOLS,
  TABLES,
} from "./constants.ts";
import { readHeader } from "./header.ts";
import {
  contextClass,
  freshHistory,
  freshTables,
  type History,
  inverseTable,
  remember,
  segmentStart,
} from "./model.ts";

const SLOT_MASK = (1 << PROB_BITS) - 1;
const UNIFORM = (1 << PROB_BITS) / SYMBOLS;
// Where boundaries above the coded symbol move to: 2^15 - 16 + j.
const TOP = (1 << PROB_BITS) - SYMBOLS;

/**
 * Decodes the adaptive payload `src` into `out`, whose length is the plane's byte count. `above`
 * is the decoded plane above this one, which the mantissa model takes its contexts from.
 * Throws {@link CodecError} on any malformed payload.
 */
export function adaptiveDecode(src: Uint8Array, out: Uint8Array, above?: Uint8Array): void {
  const [h, statesAt] = readHeader(src);
  const n = out.length, lanes = h.lanes;
  if (h.model === MODEL_MANTISSA && (!above || above.length !== n)) {
    throw new CodecError("corrupt", "adaptive mantissa plane without an exponent plane above it");
  }
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  // Per lane k: io[3k] its state, io[3k + 1] its next stream byte, io[3k + 2] its stream's end.
  // Numbers the hot loop mutates live in one typed array rather than in closure variables.
  const io = new Int32Array(3 * lanes);
  let at = statesAt + 8 * lanes - 4;
  for (let k = 0; k < lanes; k++) {
    const length = k < lanes - 1
      ? view.getUint32(statesAt + 4 * lanes + 4 * k, true)
      : src.length - at;
    if (length < 0 || at + length > src.length) {
      throw new CodecError("truncated", `adaptive lane ${k} stream runs past the payload`);
    }
    io[3 * k] = view.getUint32(statesAt + 4 * k, true);
    io[3 * k + 1] = at;
    io[3 * k + 2] = at += length;
  }
  const s: Lanes = {
    src,
    io,
    cdf: new Int32Array(lanes * TABLES * CDF_STRIDE),
    updates: new Uint8Array(lanes * TABLES),
    history: freshHistory(h.context, lanes, h.cols),
    starts: new Int32Array(lanes + 1),
    lanes,
    longest: 0,
  };
  const fresh = freshTables().cdf;
  for (let k = 0; k < lanes; k++) s.cdf.set(fresh, k * TABLES * CDF_STRIDE);
  for (let k = 0; k <= lanes; k++) s.starts[k] = segmentStart(k, lanes, n);
  for (let k = 0; k < lanes; k++) s.longest = Math.max(s.longest, s.starts[k + 1] - s.starts[k]);
  // One loop per model, each small enough for the JIT to keep whole: one loop with a branch per
  // model deoptimised on the branches it had not yet seen.
  if (h.model === MODEL_BYTE) decodeBytes(s, h.cols, inverseTable(h.variant), out);
  else if (h.model === MODEL_RANK) decodeRanks(s, h.cols, h.values, out);
  else if (h.model === MODEL_MANTISSA) decodeMantissas(s, h.values, h.variant, above!, out);
  else decodeNibbles(s, h.cols, h.elementBytes, out);
  for (let k = 0; k < lanes; k++) {
    if (io[3 * k + 1] !== io[3 * k + 2]) {
      throw new CodecError(
        "corrupt",
        `adaptive lane ${k} leaves ${io[3 * k + 2] - io[3 * k + 1]} stream bytes unread`,
      );
    }
    if (io[3 * k] !== STATE_LOW) {
      throw new CodecError("corrupt", `adaptive lane ${k} ends in state ${io[3 * k]}, not 2^23`);
    }
  }
}

/** The decoder's state: stream, lane states, tables and history. */
interface Lanes {
  readonly src: Uint8Array;
  readonly io: Int32Array;
  readonly cdf: Int32Array;
  readonly updates: Uint8Array;
  readonly history: History;
  /** Segment bounds: lane k decodes elements starts[k] to starts[k + 1]. */
  readonly starts: Int32Array;
  readonly lanes: number;
  /** The longest segment. */
  longest: number;
}

function decodeBytes(s: Lanes, cols: number, inverse: Uint8Array, out: Uint8Array): void {
  const { src, io, cdf, updates, history, starts, lanes } = s;
  for (let t = 0; t < s.longest; t++) {
    for (let k = 0; k < lanes; k++) {
      const j = starts[k] + t;
      if (j >= starts[k + 1]) continue;
      const col = j % cols, t0 = k * TABLES;
      const hi = symbol(src, io, cdf, updates, k, t0 + contextClass(history, k, col));
      const lo = symbol(src, io, cdf, updates, k, t0 + 17 + hi);
      remember(history, k, col, hi);
      out[j] = inverse[(hi << 4) | lo];
    }
  }
}

function decodeRanks(s: Lanes, cols: number, values: Uint8Array, out: Uint8Array): void {
  const { src, io, cdf, updates, history, starts, lanes } = s;
  const count = values.length;
  for (let t = 0; t < s.longest; t++) {
    for (let k = 0; k < lanes; k++) {
      const j = starts[k] + t;
      if (j >= starts[k + 1]) continue;
      const col = j % cols, t0 = k * TABLES;
      const r = symbol(src, io, cdf, updates, k, t0 + contextClass(history, k, col));
      if (r === 15) {
        const hi = symbol(src, io, cdf, updates, k, t0 + 17);
        out[j] = (hi << 4) | symbol(src, io, cdf, updates, k, t0 + 18 + hi);
      } else if (r >= count) {
        throw new CodecError("corrupt", `adaptive rank ${r} past the ${count} values listed`);
      } else out[j] = values[r];
      remember(history, k, col, r);
    }
  }
}

function decodeMantissas(
  s: Lanes,
  values: Uint8Array,
  low: number,
  above: Uint8Array,
  out: Uint8Array,
): void {
  const { src, io, cdf, updates, starts, lanes } = s;
  const classOf = new Uint8Array(256).fill(15);
  values.forEach((v, i) => classOf[v] = i);
  for (let t = 0; t < s.longest; t++) {
    for (let k = 0; k < lanes; k++) {
      const j = starts[k] + t;
      if (j >= starts[k + 1]) continue;
      const t0 = k * TABLES, hi = symbol(src, io, cdf, updates, k, t0 + classOf[above[j]]);
      const lo = low === LOW_ADAPTIVE
        ? symbol(src, io, cdf, updates, k, t0 + 16 + hi)
        : uniform(src, io, k);
      out[j] = (hi << 4) | lo;
    }
  }
}

function decodeNibbles(s: Lanes, cols: number, elementBytes: number, out: Uint8Array): void {
  const { src, io, cdf, updates, history, starts, lanes } = s;
  for (let t = 0; t < s.longest; t++) {
    for (let k = 0; k < lanes; k++) {
      const j = starts[k] + t;
      if (j >= starts[k + 1]) continue;
      const col = Math.floor(j / elementBytes) % cols, t0 = k * TABLES;
      const a = symbol(src, io, cdf, updates, k, t0 + contextClass(history, k, col));
      remember(history, k, col, a);
      const b = symbol(src, io, cdf, updates, k, t0 + contextClass(history, k, col));
      remember(history, k, col, b);
      out[j] = a | (b << 4);
    }
  }
}

/** Decodes one symbol of lane `k` under table `t` (lanes' tables side by side), then adapts it. */
function symbol(
  src: Uint8Array,
  io: Int32Array,
  cdf: Int32Array,
  updates: Uint8Array,
  k: number,
  t: number,
): number {
  const b = t * CDF_STRIDE, v = io[3 * k], slot = v & SLOT_MASK;
  let s = 0;
  while (cdf[b + s + 1] <= slot) s++;
  const start = cdf[b + s];
  let y = (cdf[b + s + 1] - start) * (v >>> PROB_BITS) + slot - start;
  while (y < STATE_LOW) y = (y << 8) | next(src, io, k);
  io[3 * k] = y;
  const u = updates[t], rate = RATE_MIN + (u >> 4);
  if (u < RATE_WARMUP) updates[t] = u + 1;
  for (let j = 1; j <= s; j++) cdf[b + j] += (j - cdf[b + j]) >> rate;
  for (let j = s + 1; j < SYMBOLS; j++) cdf[b + j] += (TOP + j - cdf[b + j]) >> rate;
  return s;
}

/** Decodes one uniform nibble of lane `k` (no table, no adaptation). */
function uniform(src: Uint8Array, io: Int32Array, k: number): number {
  const v = io[3 * k], slot = v & SLOT_MASK, s = slot >> (PROB_BITS - 4);
  let y = UNIFORM * (v >>> PROB_BITS) + slot - s * UNIFORM;
  while (y < STATE_LOW) y = (y << 8) | next(src, io, k);
  io[3 * k] = y;
  return s;
}

/** The next byte of lane `k`'s stream. */
function next(src: Uint8Array, io: Int32Array, k: number): number {
  const p = io[3 * k + 1];
  if (p >= io[3 * k + 2]) {
    throw new CodecError("truncated", `adaptive lane ${k} stream is cut off`);
  }
  io[3 * k + 1] = p + 1;
  return src[p];
}
