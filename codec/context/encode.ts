/**
 * Encoder of context rANS planes (codec 6, docs/FORMAT.md "Context rANS"): chooses a context
 * source, groups context keys into classes whose symbol statistics differ, writes one static
 * frequency table per class and codes the plane with rANS, each symbol under its class's table.
 * Browser-safe.
 * @module
 */
import { LANES, SCALE_BITS, STATE_LOW } from "../rans/constants.ts";
import { MAX_TABLE_BYTES, normalizeCounts, writeTable } from "../rans/table_write.ts";
import {
  type ContextHeader,
  contextHeaderBytes,
  MAX_CLASSES,
  MIN_COLS,
  SOURCE_PLANE_ABOVE,
  SOURCE_PREVIOUS,
  SOURCE_ROW_ABOVE,
  writeContextHeader,
} from "./format.ts";

// A state at or above f << (31 - SCALE_BITS) would leave [2^15, 2^31) once f is coded into it.
const RENORM = 1 << (31 - SCALE_BITS);

/** Where a plane's contexts may come from, for {@link contextBest}. */
export interface ContextChoice {
  /** The key shift that suits the plane's bytes (the bits above it carry the exponent). */
  readonly shift: number;
  /** Bytes per tile row, for the row-above source; below {@link MIN_COLS} to skip it. */
  readonly cols: number;
  /** The raw plane `p + 1`, for the plane-above source; absent to skip it. */
  readonly above?: Uint8Array;
  /** Try the previous-byte source. */
  readonly previous: boolean;
}

/** The context byte of every position of `plane` under `source`. */
function contextBytes(plane: Uint8Array, source: number, cols: number, above?: Uint8Array) {
  const n = plane.length, ctx = new Uint8Array(n);
  if (source === SOURCE_PLANE_ABOVE) ctx.set(above!.subarray(0, n));
  else {
    const back = source === SOURCE_PREVIOUS ? LANES : cols;
    if (back < n) ctx.set(plane.subarray(0, n - back), back);
  }
  return ctx;
}

/** Bytes of a frequency table of `distinct` symbols, roughly (6 bits a frequency). */
function tableEstimate(distinct: number): number {
  return 2 + Math.min(distinct, 32) + 0.75 * distinct;
}

/** A group of keys sharing a table: their symbol counts and estimated coded bytes. */
interface Cluster {
  keys: number[];
  counts: Float64Array;
  total: number;
  bytes: number;
}

function clusterBytes(counts: Float64Array, total: number): number {
  let bits = 0, distinct = 0;
  for (let s = 0; s < 256; s++) {
    const c = counts[s];
    if (c > 0) bits += c * Math.log2(total / c), distinct++;
  }
  return bits / 8 + tableEstimate(distinct);
}

function cluster(keys: number[], counts: Float64Array, total: number): Cluster {
  return { keys, counts, total, bytes: clusterBytes(counts, total) };
}

/**
 * Groups the keys of `ctx` (shifted by `shift`) into at most `maxClasses` classes, merging
 * greedily the two whose union costs least, while merging saves bytes or classes are too many.
 * Returns the class of each key (the class with most keys is 0, so it needs no listing) and the
 * estimated payload size.
 */
function chooseClasses(
  plane: Uint8Array,
  ctx: Uint8Array,
  shift: number,
  maxClasses: number,
): { classOfKey: Uint8Array; classes: number; bytes: number } {
  const keys = 256 >> shift, joint = new Float64Array(keys * 256), totals = new Float64Array(keys);
  for (let i = 0; i < plane.length; i++) {
    const k = ctx[i] >> shift;
    joint[k * 256 + plane[i]]++;
    totals[k]++;
  }
  // Keys too rare to pay for a table of their own start in one shared cluster.
  const floor = Math.max(32, plane.length / 1024);
  const present = [...totals.keys()].filter((k) => totals[k] > 0);
  present.sort((a, b) => totals[b] - totals[a]);
  const clusters: Cluster[] = [];
  const rest = { keys: [] as number[], counts: new Float64Array(256), total: 0 };
  for (const k of present) {
    const counts = joint.subarray(k * 256, (k + 1) * 256);
    if (totals[k] >= floor && clusters.length < 24) {
      clusters.push(cluster([k], Float64Array.from(counts), totals[k]));
    } else {
      rest.keys.push(k);
      rest.total += totals[k];
      for (let s = 0; s < 256; s++) rest.counts[s] += counts[s];
    }
  }
  if (rest.total > 0) clusters.push(cluster(rest.keys, rest.counts, rest.total));
  const merged = new Float64Array(256);
  while (clusters.length > 1) {
    let bestA = 0, bestB = 1, bestDelta = Infinity;
    for (let a = 0; a < clusters.length; a++) {
      for (let b = a + 1; b < clusters.length; b++) {
        const A = clusters[a], B = clusters[b];
        for (let s = 0; s < 256; s++) merged[s] = A.counts[s] + B.counts[s];
        const delta = clusterBytes(merged, A.total + B.total) - A.bytes - B.bytes;
        if (delta < bestDelta) bestDelta = delta, bestA = a, bestB = b;
      }
    }
    // Each listed key costs 2 header bytes; merging also saves those of the smaller cluster.
    if (bestDelta >= 2 && clusters.length <= maxClasses) break;
    const A = clusters[bestA], B = clusters[bestB];
    const counts = new Float64Array(256);
    for (let s = 0; s < 256; s++) counts[s] = A.counts[s] + B.counts[s];
    clusters[bestA] = cluster([...A.keys, ...B.keys], counts, A.total + B.total);
    clusters.splice(bestB, 1);
  }
  clusters.sort((a, b) => b.keys.length - a.keys.length);
  const classOfKey = new Uint8Array(keys);
  let bytes = 0;
  clusters.forEach((c, i) => {
    for (const k of c.keys) classOfKey[k] = i;
    bytes += c.bytes + (i > 0 ? 2 * c.keys.length : 0);
  });
  return { classOfKey, classes: clusters.length, bytes };
}

/**
 * Encodes `plane` under header `h` (its classes already chosen); `above` is plane `p + 1` for the
 * plane-above source. Returns the payload, a fresh array.
 */
export function contextEncode(plane: Uint8Array, h: ContextHeader, above?: Uint8Array): Uint8Array {
  const n = plane.length, K = h.classes;
  const ctx = contextBytes(plane, h.source, h.cols, above);
  const cls = new Uint8Array(n);
  for (let i = 0; i < n; i++) cls[i] = h.classOfKey[ctx[i] >> h.shift];
  const counts = new Uint32Array(K * 256);
  for (let i = 0; i < n; i++) counts[cls[i] * 256 + plane[i]]++;
  const freqs = new Uint16Array(K * 256), starts = new Uint16Array(K * 256);
  const out = new Uint8Array(contextHeaderBytes(h) + K * MAX_TABLE_BYTES + LANES * 4 + 2 * n + 2);
  let pos = writeContextHeader(h, out);
  for (let c = 0; c < K; c++) {
    const cc = counts.subarray(c * 256, (c + 1) * 256), f = freqs.subarray(c * 256, (c + 1) * 256);
    // A table needs two symbols; a class with fewer gets stand-ins it never codes.
    let distinct = 0, only = 0;
    for (let s = 0; s < 256; s++) if (cc[s]) distinct++, only = s;
    if (distinct === 0) cc[0] = cc[1] = 1;
    else if (distinct === 1) cc[only ^ 1] = 1;
    normalizeCounts(cc, f);
    for (let s = 1; s < 256; s++) starts[c * 256 + s] = starts[c * 256 + s - 1] + f[s - 1];
    pos = writeTable(f, out, pos);
  }
  const words = new Uint16Array(n + 1);
  let w = n + 1;
  const x = [STATE_LOW, STATE_LOW, STATE_LOW, STATE_LOW];
  for (let i = n - 1; i >= 0; i--) {
    const t = cls[i] * 256 + plane[i], f = freqs[t], lane = i & 3;
    let state = x[lane];
    if (state >= f * RENORM) words[--w] = state & 0xffff, state >>>= 16;
    const q = (state / f) | 0;
    x[lane] = (q << SCALE_BITS) + (state - q * f) + starts[t];
  }
  for (let lane = 0; lane < LANES; lane++, pos += 4) {
    new DataView(out.buffer).setUint32(pos, x[lane], true);
  }
  for (; w <= n; w++) out[pos++] = words[w] & 0xff, out[pos++] = words[w] >> 8;
  return out.slice(0, pos);
}

/**
 * The smallest context rANS payload for `plane` over the sources `choice` allows, or null when
 * none is estimated to beat `limit` bytes (the plane's best static coding).
 */
export function contextBest(
  plane: Uint8Array,
  choice: ContextChoice,
  limit: number,
): Uint8Array | null {
  const sources: number[] = [];
  if (choice.previous) sources.push(SOURCE_PREVIOUS);
  if (choice.cols >= MIN_COLS && choice.cols < plane.length) sources.push(SOURCE_ROW_ABOVE);
  if (choice.above && choice.above.length === plane.length) sources.push(SOURCE_PLANE_ABOVE);
  // A decoder fills 4,096 lookup entries per class before its first symbol: at most one entry per
  // symbol keeps that fill a small share of the plane's decode time (ppocrv4.e4m3: 20% more CPU
  // per decoded byte than codec 2 with up to 8 classes on any plane of 4 KiB, before this rule).
  const maxClasses = Math.min(MAX_CLASSES, Math.floor(plane.length / 4096));
  let best: Uint8Array | null = null;
  for (const source of maxClasses >= 2 ? sources : []) {
    const ctx = contextBytes(plane, source, choice.cols, choice.above);
    const c = chooseClasses(plane, ctx, choice.shift, maxClasses);
    if (c.classes < 2 || c.bytes + 30 > (best?.length ?? limit)) continue;
    const h: ContextHeader = {
      source,
      shift: choice.shift,
      cols: source === SOURCE_ROW_ABOVE ? choice.cols : 0,
      classes: c.classes,
      classOfKey: c.classOfKey,
    };
    const coded = contextEncode(plane, h, choice.above);
    if (coded.length < (best?.length ?? limit)) best = coded;
  }
  return best;
}
