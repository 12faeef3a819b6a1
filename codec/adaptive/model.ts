/**
 * The adaptive model shared by the encoder and the decoder of codec 5: cumulative tables and their
 * update, context classes, byte transforms, segment bounds and the payload header. Both sides run
 * exactly this code, so their models stay equal symbol by symbol. Browser-safe.
 * @module
 */
import {
  CDF_STRIDE,
  CONTEXT_COLUMN,
  CONTEXT_PREVIOUS,
  HISTORY_CLASSES,
  PROB_TOTAL,
  RATE_MIN,
  RATE_WARMUP,
  SYMBOLS,
  TABLES,
  TRANSFORM_E4M3,
  TRANSFORM_E5M2,
  TRANSFORM_ZIGZAG,
} from "./constants.ts";

/**
 * The tables of one lane: `TABLES` cumulative tables of 17 entries (`c[0] = 0`, `c[16] = 2^15`,
 * every symbol at least 1) and how often each was updated.
 */
export interface Tables {
  /** `TABLES × 17` cumulative frequencies. */
  readonly cdf: Int32Array;
  /** Updates per table, saturating at {@link RATE_WARMUP}. */
  readonly updates: Uint8Array;
}

/** Fresh tables: every symbol 1/16. */
export function freshTables(): Tables {
  const cdf = new Int32Array(TABLES * CDF_STRIDE);
  for (let t = 0; t < TABLES; t++) {
    for (let j = 0; j <= SYMBOLS; j++) cdf[t * CDF_STRIDE + j] = j * (PROB_TOTAL / SYMBOLS);
  }
  return { cdf, updates: new Uint8Array(TABLES) };
}

/**
 * Moves table `t` towards symbol `s`: every boundary `j` goes `1/2^rate` of the way to `j` (for
 * `j <= s`) or `2^15 - 16 + j` (for `j > s`), rounding down. Boundaries stay strictly increasing,
 * so every symbol keeps a frequency of at least 1.
 */
export function update(tables: Tables, t: number, s: number): void {
  const u = tables.updates[t];
  const rate = RATE_MIN + (u >> 4);
  if (u < RATE_WARMUP) tables.updates[t] = u + 1;
  const c = tables.cdf, b = t * CDF_STRIDE;
  for (let j = 1; j < SYMBOLS; j++) {
    const target = j > s ? PROB_TOTAL - SYMBOLS + j : j;
    c[b + j] += (target - c[b + j]) >> rate;
  }
}

/**
 * Where the first symbol's context comes from, for every lane: the previous history symbol (16
 * before the first) and, for the column context, each column's running average × 16 (0xffff before
 * the column's first symbol). Lane `k`'s columns are `columns[k·cols ... (k+1)·cols)`.
 */
export interface History {
  /** Per lane: the previous history symbol. */
  readonly previous: Int32Array;
  /** Per lane and column: the running average, or 0xffff. */
  readonly columns: Uint16Array;
  /** The context mode. */
  readonly mode: number;
  /** Columns per lane. */
  readonly cols: number;
}

/** A fresh history of `lanes` lanes over a tile `cols` wide. */
export function freshHistory(mode: number, lanes: number, cols: number): History {
  const columns = new Uint16Array(mode === CONTEXT_COLUMN ? lanes * cols : 0).fill(0xffff);
  return { previous: new Int32Array(lanes).fill(HISTORY_CLASSES - 1), columns, mode, cols };
}

/** The context class (0-16) of a first symbol of lane `k` in column `col`. */
export function contextClass(h: History, k: number, col: number): number {
  if (h.mode === CONTEXT_COLUMN) {
    const a = h.columns[k * h.cols + col];
    return a === 0xffff ? 16 : Math.min(15, (a + 8) >> 4);
  }
  return h.mode === CONTEXT_PREVIOUS ? h.previous[k] : 0;
}

/** Records history symbol `s` (0-15) of lane `k` in column `col`. */
export function remember(h: History, k: number, col: number, s: number): void {
  if (h.mode === CONTEXT_COLUMN) {
    const i = k * h.cols + col, a = h.columns[i];
    h.columns[i] = a === 0xffff ? s << 4 : a + (((s << 4) - a) >> 3);
  } else h.previous[k] = s;
}

/** Byte `b` transformed by `transform` (a bit permutation, or zigzag). */
export function forward(transform: number, b: number): number {
  switch (transform) {
    case TRANSFORM_E4M3:
      return ((b & 0x78) << 1) | ((b & 0x80) >> 4) | (b & 0x07);
    case TRANSFORM_E5M2:
      return ((b & 0x7c) << 1) | ((b & 0x80) >> 5) | (b & 0x03);
    case TRANSFORM_ZIGZAG:
      return ((b << 1) ^ (b & 0x80 ? 0xff : 0)) & 0xff;
    default:
      return b;
  }
}

/** The 256 inverses of {@link forward} for `transform`. */
export function inverseTable(transform: number): Uint8Array {
  const inv = new Uint8Array(256);
  for (let b = 0; b < 256; b++) inv[forward(transform, b)] = b;
  return inv;
}

/** Start of segment `k` of `lanes` over `n` elements: `floor(k·n / lanes)`. */
export function segmentStart(k: number, lanes: number, n: number): number {
  return Math.floor((k * n) / lanes);
}
