/**
 * Encodes one chunk: split into planes, code each plane with the cheapest codec, prepend the plane
 * table (docs/FORMAT.md, "Chunks"). Browser-safe; zstd is injected because no portable encoder is
 * fast enough.
 * @module
 */
import { type Dtype, planeCount, type PlaneLayout } from "./dtype.ts";
import { splitPlanes } from "./planes.ts";
import {
  CODEC_ADAPTIVE,
  CODEC_CONST,
  CODEC_CONTEXT,
  CODEC_HUFFMAN,
  CODEC_RANS,
  CODEC_RAW,
  CODEC_ZSTD,
  PLANE_ENTRY_BYTES,
} from "./plane_codec.ts";
import { ransBound, ransEncode } from "./rans/encode.ts";
import { huffmanBound, huffmanEncode } from "./huffman/encode.ts";
import { countSymbols } from "./rans/table_write.ts";
import { adaptiveBest, lanesFor, type PlaneShape } from "./adaptive/choose.ts";
import { type AdaptiveScratch, adaptiveScratch } from "./adaptive/encode.ts";
import { contextBest, type ContextChoice } from "./context/encode.ts";

/** Compresses `src` into one Zstandard frame at `level`. */
export type ZstdCompress = (src: Uint8Array, level: number) => Uint8Array;

/** `fast` favours decode speed; `best` favours size. */
export type Mode = "fast" | "best";

/** How {@link encodeChunk} codes planes. */
export interface EncodeOptions {
  /** Which trade-off to make. */
  readonly mode: Mode;
  /** A Zstandard encoder, tried as a rival to rANS; without one, only rANS is used. */
  readonly zstdCompress?: ZstdCompress;
  /** Buffers kept from one chunk to the next; without them each chunk allocates its own. */
  readonly scratch?: EncodeScratch;
  /** The tensor's dtype: which byte transform suits its adaptive planes (FP8, INT8, F16). */
  readonly dtype?: Dtype;
  /** The tile's width in elements, for the adaptive column context; 1 when absent. */
  readonly tileCols?: number;
}

/**
 * Working buffers of {@link encodeChunk}, grown as needed. Reusing them spares about 2 MB of
 * garbage per 256 KiB chunk, which a packing thread otherwise carries in its heap.
 */
export interface EncodeScratch {
  /** The chunk split into planes. */
  planes: Uint8Array;
  /** A plane coded with rANS. */
  rans: Uint8Array;
  /** A plane coded with Huffman. */
  huffman: Uint8Array;
  /** rANS words, written backwards. */
  words: Uint16Array;
  /** Symbol records and streams of the adaptive coder. */
  adaptive: AdaptiveScratch;
}

/** Empty scratch for {@link EncodeOptions.scratch}. */
export function encodeScratch(): EncodeScratch {
  return {
    planes: new Uint8Array(0),
    rans: new Uint8Array(0),
    huffman: new Uint8Array(0),
    words: new Uint16Array(0),
    adaptive: adaptiveScratch(),
  };
}

/** Encodes `raw` (whole elements of `layout`) as one self-contained chunk. */
export function encodeChunk(
  raw: Uint8Array,
  layout: PlaneLayout,
  options: EncodeOptions,
): Uint8Array {
  const width = layout.width, n = raw.length / width;
  if (!Number.isInteger(n)) {
    throw new RangeError(`chunk of ${raw.length} bytes is not whole ${width}-byte elements`);
  }
  const s = options.scratch ?? encodeScratch();
  const count = planeCount(layout), size = raw.length / count;
  if (s.planes.length < raw.length) s.planes = new Uint8Array(raw.length);
  if (s.rans.length < ransBound(size)) s.rans = new Uint8Array(ransBound(size));
  if (s.huffman.length < huffmanBound(size)) s.huffman = new Uint8Array(huffmanBound(size));
  if (s.words.length < size + 1) s.words = new Uint16Array(size + 1);
  const planes: Uint8Array[] = [];
  if (count === 1) planes.push(raw);
  else {
    for (let p = 0; p < width; p++) planes.push(s.planes.subarray(p * n, (p + 1) * n));
    splitPlanes(raw, width, layout.signMoved, planes);
  }

  const codecs: number[] = [], payloads: Uint8Array[] = [];
  for (let p = 0; p < count; p++) {
    let [codec, payload] = encodePlane(planes[p], options, s, p === count - 1);
    // `fast` takes context rANS only for 1-byte dtypes (FP8, INT8), where it is the one plane and
    // saves 2%: it decodes at about 2.7 ns a byte against Huffman's 1, which keeps `fast` within
    // 3% of `best` (ppocrv4.e5m2 and .int8 fell to 0.997 and 0.997 of best without it).
    const fastContext = options.mode === "fast" && layout.width === 1 && !layout.packing;
    const choice = (options.mode === "best" || fastContext) && codec !== CODEC_CONST
      ? contextChoiceOf(layout, p, options, planes)
      : null;
    if (choice) {
      const margin = options.mode === "best" ? CONTEXT_MARGIN : FAST_CONTEXT_MARGIN;
      const coded = contextBest(planes[p], choice, payload.length * (1 - margin));
      if (coded) [codec, payload] = [CODEC_CONTEXT, coded];
    }
    codecs.push(codec);
    // Views into the scratch are overwritten by the next plane; a raw plane is overwritten by
    // the next chunk, but it is copied into the output below, before that.
    payloads.push(
      payload.buffer === s.rans.buffer || payload.buffer === s.huffman.buffer
        ? payload.slice()
        : payload,
    );
  }
  if (options.mode === "best") adaptWithinBudget(planes, layout, options, s, codecs, payloads);
  const headerBytes = 1 + count * PLANE_ENTRY_BYTES;
  let total = headerBytes;
  for (const p of payloads) total += p.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = count;
  let pos = headerBytes;
  for (let p = 0; p < count; p++) {
    out[1 + p * PLANE_ENTRY_BYTES] = codecs[p];
    view.setUint32(2 + p * PLANE_ENTRY_BYTES, payloads[p].length, true);
    out.set(payloads[p], pos);
    pos += payloads[p].length;
  }
  return out;
}

/** What plane `p` of `layout` holds, for its adaptive model; null where none is worth trying. */
function shapeOf(layout: PlaneLayout, p: number, options: EncodeOptions): PlaneShape | null {
  const cols = options.tileCols ?? 1, dtype = options.dtype, width = layout.width;
  if (layout.packing) return { role: "nibbles", dtype, cols, elementBytes: width };
  if (width === 1) return { role: "byte", dtype, cols, elementBytes: 1 };
  if (layout.signMoved) {
    // The low mantissa bytes of F32 are close to random: no model beats storing them.
    if (p === width - 1) return { role: "exponent", dtype, cols, elementBytes: 1 };
    return p === width - 2 ? { role: "mantissa", dtype, cols, elementBytes: 1 } : null;
  }
  if (dtype === "F16" && p === 1) return { role: "f16high", dtype, cols, elementBytes: 1 };
  return { role: "byte", dtype, cols, elementBytes: 1 };
}

/** The saving a context rANS plane must make over the static coding it replaces. */
export const CONTEXT_MARGIN = 0.002;
/** The same in `fast`, which gives up some of Huffman's decode speed only for a clear saving. */
export const FAST_CONTEXT_MARGIN = 0.02;

/**
 * Which context sources suit plane `p` (docs/FORMAT.md, "Context rANS"), or null for none. The
 * key shift keeps the bits that carry the exponent (and sign) of a context byte: `s eeee mmm`
 * (E4M3) by 3, `s eeeee mm` (E5M2, F16's high byte) by 2; a whole exponent plane by 0; an INT8
 * byte by 3 (16 magnitude bands of either sign). A sign-moved mantissa plane takes its context
 * from the exponent plane above it; the lower planes of F32 are near-random and get none.
 */
function contextChoiceOf(
  layout: PlaneLayout,
  p: number,
  options: EncodeOptions,
  planes: Uint8Array[],
): ContextChoice | null {
  const width = layout.width, dtype = options.dtype, cols = options.tileCols ?? 1;
  if (layout.packing || planes[p].length < 4096) return null;
  if (width === 1) {
    const shift = dtype === "F8_E4M3" ? 3 : dtype === "F8_E5M2" ? 2 : 3;
    return { shift, cols, previous: true };
  }
  if (layout.signMoved) {
    if (p === width - 1) return { shift: 0, cols, previous: true };
    return p === width - 2 ? { shift: 0, cols: 0, previous: false, above: planes[p + 1] } : null;
  }
  if (dtype === "F16" && p === 1) return { shift: 2, cols, previous: true };
  return null;
}

// zstd costs more to run than rANS and wins only where bytes repeat. Compressing a sample first
// keeps `fast` packing quick: a full attempt follows only if the sample beats rANS clearly.
const SAMPLE = 16384;
function repeatsLikely(plane: Uint8Array, ransBytes: number, zstd: ZstdCompress): boolean {
  // Each node:zlib call has a fixed cost; on a tiny plane that outweighs any gain, and on a small
  // one a full attempt costs no more than a sample.
  if (plane.length < 4096) return false;
  if (plane.length <= 2 * SAMPLE) return true;
  const at = (plane.length >> 1) - (SAMPLE >> 1);
  const sample = zstd(plane.subarray(at, at + SAMPLE), 1).length;
  return sample < 0.95 * (ransBytes * SAMPLE) / plane.length;
}

function encodePlane(
  plane: Uint8Array,
  options: EncodeOptions,
  s: EncodeScratch,
  top: boolean,
): [number, Uint8Array] {
  if (plane.length === 0) return [CODEC_RAW, plane];
  const first = plane[0];
  let constant = true;
  for (let i = 1; i < plane.length; i++) {
    if (plane[i] !== first) {
      constant = false;
      break;
    }
  }
  if (constant) return [CODEC_CONST, Uint8Array.of(first)];

  let best: [number, Uint8Array] = [CODEC_RAW, plane];
  const rans = s.rans.subarray(0, ransEncode(plane, s.rans, s.words));
  if (rans.length < plane.length) best = [CODEC_RANS, rans];
  // Huffman decodes several times faster natively (independent bit streams, no multiply in the
  // chain) at a size within 1-2% of rANS; `fast` takes it unless it costs more than 3%.
  if (options.mode === "fast") {
    const counts = new Uint32Array(256);
    countSymbols(plane, counts);
    const huffman = s.huffman.subarray(0, huffmanEncode(plane, counts, s.huffman));
    if (huffman.length <= best[1].length * 1.03) best = [CODEC_HUFFMAN, huffman];
  }
  // Zstandard wins only on planes with repeats (tied or duplicated weights, long zero runs), but
  // there by far. Through node:zlib each call costs as much as decoding a small plane, so `fast`
  // takes it only when it saves a tenth.
  const zstd = options.zstdCompress;
  // `best` always lets zstd compete; the sample check only keeps `fast` packing quick.
  if (zstd && (options.mode === "best" || repeatsLikely(plane, best[1].length, zstd))) {
    const margin = options.mode === "best" ? 1 : 0.9;
    const packed = zstd(plane, 1);
    if (packed.length < best[1].length * margin) best = [CODEC_ZSTD, packed];
    // zstd levels are not monotonic on small planes, so `best` also tries a higher one, where
    // level 1 came close enough to suggest repeats worth a slower search.
    if (options.mode === "best" && packed.length < best[1].length * 1.1) {
      const deeper = zstd(plane, 9);
      if (deeper.length < best[1].length) best = [CODEC_ZSTD, deeper];
    }
  }
  // A coded plane must save real space to be worth decoding. In `fast`, the top plane (the
  // exponent, or F16's sign-exponent byte) is fused with the merge and must save 3%; every other
  // plane costs a full extra decode pass, which a few percent of size does not repay.
  const keep = options.mode === "best" ? 0.995 : top ? 0.97 : 0.75;
  if (best[0] !== CODEC_RAW && best[1].length > plane.length * keep) return [CODEC_RAW, plane];
  return best;
}

/**
 * Decode time, in nanoseconds per symbol or byte, that the encoder counts for each coding when it
 * decides where adaptive planes fit. Measured natively on this project's reference machine
 * (docs/ARCHITECTURE.md): an adaptive symbol costs about 10 ns in place (3.5-5 ns in a tight
 * four-lane loop), a static rANS symbol 1.3 ns, a Huffman one 0.6 ns.
 */
const COST_NS: Record<number, number> = {
  [CODEC_RAW]: 0.1,
  [CODEC_CONST]: 0.05,
  [CODEC_RANS]: 1.3,
  [CODEC_ZSTD]: 1,
  [CODEC_HUFFMAN]: 0.6,
  [CODEC_CONTEXT]: 1.6,
};
/** Nanoseconds an adaptive symbol costs to decode, in four lanes; one or two lanes cost 1.5x. */
export const ADAPTIVE_SYMBOL_NS = 10;
/** Nanoseconds an adaptive plane costs before its first symbol (header, tables, history). */
export const ADAPTIVE_SETUP_NS = 2000;
/**
 * Decode time a `best` chunk may take, per raw byte: 3 ns is 333 MB/s, which leaves room for the
 * merge, the checksum and per-chunk work within 250 MB/s per thread.
 */
export const BUDGET_NS_PER_BYTE = 3;
/**
 * Decode time any chunk may take whatever its size: a chunk of a few thousand bytes costs about as
 * much to fetch, check and hand over, so its planes may as well be adaptive.
 */
export const BUDGET_FLOOR_NS = 15_000;
/** The saving an adaptive plane must make over the static coding it replaces. */
export const ADAPTIVE_MARGIN = 0.002;

/** Adaptive symbols per plane byte, by role. */
function symbolsPerByte(shape: PlaneShape): number {
  return shape.role === "exponent" ? 1 : shape.role === "mantissa" ? 1.5 : 2;
}

/**
 * Replaces static planes by adaptive ones where that is smaller and the chunk's estimated decode
 * time stays within its budget, top plane first (the exponent plane gains most). An adaptive
 * symbol decodes about 8x slower than a static one, so `best` spends that time where it buys most:
 * small chunks, whose static tables are a large share of their size, and planes of one symbol per
 * element in larger ones.
 */
function adaptWithinBudget(
  planes: Uint8Array[],
  layout: PlaneLayout,
  options: EncodeOptions,
  s: EncodeScratch,
  codecs: number[],
  payloads: Uint8Array[],
): void {
  let raw = 0, time = 0;
  for (let p = 0; p < planes.length; p++) {
    raw += planes[p].length;
    time += planes[p].length * (COST_NS[codecs[p]] ?? ADAPTIVE_SYMBOL_NS);
  }
  const budget = Math.max(raw * BUDGET_NS_PER_BYTE, BUDGET_FLOOR_NS);
  for (let p = planes.length - 1; p >= 0; p--) {
    const shape = shapeOf(layout, p, options), plane = planes[p];
    if (!shape || !adaptiveWorthTrying(plane)) continue;
    const perSymbol = ADAPTIVE_SYMBOL_NS * (lanesFor(plane.length) === 4 ? 1 : 1.5);
    const extra = ADAPTIVE_SETUP_NS +
      plane.length * (symbolsPerByte(shape) * perSymbol - COST_NS[codecs[p]]);
    if (time + extra > budget) continue;
    const coded = adaptiveBest(plane, shape, planes[p + 1], s.adaptive);
    if (coded && coded.length < payloads[p].length * (1 - ADAPTIVE_MARGIN)) {
      codecs[p] = CODEC_ADAPTIVE;
      payloads[p] = coded;
      time += extra;
    }
  }
}

// Simulating the adaptive model costs 0.3-1 µs per byte in TypeScript: skip planes whose bytes
// are near-random (order-0 entropy above 7.9 bits), which no model shortens. A plane stored raw
// may still be worth it: on small planes a static table can cost more than it saves.
function adaptiveWorthTrying(plane: Uint8Array): boolean {
  if (plane.length < 16) return false;
  const counts = new Uint32Array(256);
  countSymbols(plane, counts);
  let bits = 0;
  for (let v = 0; v < 256; v++) {
    if (counts[v]) bits += counts[v] * Math.log2(plane.length / counts[v]);
  }
  return bits < 7.9 * plane.length;
}
