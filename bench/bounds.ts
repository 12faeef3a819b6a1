/**
 * Entropy bounds the bench prints beside the ratios, per 256 KiB chunk tiled and split as the
 * codec does, with no table cost (so they bound order-0 and context coders from below):
 *
 * - **order-0**: the order-0 entropy of every byte plane of every chunk;
 * - **context**: the exponent given the previous exponent, and the sign and mantissa given the
 *   exponent (BF16 and F32 sign-moved planes; the high byte of F16 and FP8 bytes split into exponent
 *   and sign-mantissa fields); for other bytes the high nibble given the previous high nibble and
 *   the low nibble given the high one; packed INT4 nibbles given the previous nibble; lower
 *   mantissa bytes at order 0. Empirical conditional entropies of a chunk are optimistic for small
 *   chunks (each context's counts are fitted to the chunk);
 * - **nibbles** (tensors named `...qweight`): the order-0 entropy of their unpacked nibbles.
 *
 * Each ratio adds the original header as the container stores it (zstd -19 when smaller).
 * @module
 */
import { type Dtype, planeLayout } from "../codec/dtype.ts";
import { splitPlanes } from "../codec/planes.ts";
import { chooseTiles, copyTileRegion, gridSize, tileRect } from "../codec/tiles.ts";
import { nativeZstdCompress } from "../src/codec_native/zstd.ts";
import { bufferReader } from "../src/io/random_access.ts";
import { readSafetensorsHeader } from "../src/safetensors/parse.ts";
import { CHUNK_BYTES } from "./config.ts";

/** The bounds of one file. */
export interface Bound {
  /** Sum over chunks and planes of the order-0 entropy, in bytes. */
  entropyBytes: number;
  /** Sum over chunks of the context entropy, in bytes. */
  contextBytes: number;
  /** The original header as the container stores it (zstd -19 when smaller). */
  headerBytes: number;
  /** The original header verbatim: 8-byte prefix plus JSON. */
  rawHeaderBytes: number;
  dataBytes: number;
  chunks: number;
  tensors: number;
  /** original size / (entropyBytes + headerBytes). */
  ratio: number;
  /** original size / (contextBytes + headerBytes). */
  contextRatio: number;
  /** data section / entropyBytes. */
  dataRatio: number;
  /** `...qweight` tensors: their raw bytes and the order-0 entropy of their nibbles, per chunk. */
  qweight: { rawBytes: number; nibbleBytes: number; ratio: number } | null;
}

/** Order-0 entropy of `symbols` (values below `alphabet`), in bits. */
export function entropyBits(symbols: ArrayLike<number>, alphabet = 256): number {
  const counts = new Float64Array(alphabet), n = symbols.length;
  for (let i = 0; i < n; i++) counts[symbols[i]]++;
  let sum = 0;
  for (const c of counts) if (c > 0) sum += c * Math.log2(c);
  return n > 0 ? n * Math.log2(n) - sum : 0;
}

/** Entropy of `symbols` given `contexts` (per-context counts of this sequence), in bits. */
export function conditionalBits(
  symbols: ArrayLike<number>,
  contexts: ArrayLike<number>,
  alphabet = 256,
  contextCount = 256,
): number {
  const counts = new Float64Array(alphabet * contextCount), totals = new Float64Array(contextCount);
  for (let i = 0; i < symbols.length; i++) {
    counts[contexts[i] * alphabet + symbols[i]]++;
    totals[contexts[i]]++;
  }
  let bits = 0;
  for (let k = 0; k < contextCount; k++) {
    for (let s = 0; s < alphabet; s++) {
      const c = counts[k * alphabet + s];
      if (c > 0) bits += c * Math.log2(totals[k] / c);
    }
  }
  return bits;
}

/** The previous value of each position (0 before the first). */
function previous(values: Uint8Array): Uint8Array {
  const out = new Uint8Array(values.length);
  out.set(values.subarray(0, values.length - 1), 1);
  return out;
}

/** H(exponent | previous exponent) + H(rest | exponent) of a byte plane split by `split`. */
function fieldBits(plane: Uint8Array, split: (b: number) => [number, number]): number {
  const e = new Uint8Array(plane.length), rest = new Uint8Array(plane.length);
  for (let i = 0; i < plane.length; i++) [e[i], rest[i]] = split(plane[i]);
  return conditionalBits(e, previous(e)) + conditionalBits(rest, e);
}

const NIBBLES = (b: number): [number, number] => [b >> 4, b & 15];
const ZIGZAG = (b: number): [number, number] => NIBBLES(((b << 1) ^ (b & 0x80 ? 0xff : 0)) & 0xff);
const E4M3 = (b: number): [number, number] => [(b >> 3) & 15, ((b >> 4) & 8) | (b & 7)];
const E5M2 = (b: number): [number, number] => [(b >> 2) & 31, ((b >> 5) & 4) | (b & 3)];

/** The context entropy of one chunk's planes, in bits (see the module comment). */
function contextBits(planes: Uint8Array[], dtype: Dtype, signMoved: boolean): number {
  const w = planes.length;
  if (signMoved) {
    const e = planes[w - 1], m = planes[w - 2];
    let bits = conditionalBits(e, previous(e)) + conditionalBits(m, e);
    for (let p = 0; p < w - 2; p++) bits += entropyBits(planes[p]);
    return bits;
  }
  if (dtype === "F16") return fieldBits(planes[1], E5M2) + entropyBits(planes[0]);
  if (dtype === "F8_E4M3") return fieldBits(planes[0], E4M3);
  if (dtype === "F8_E5M2") return fieldBits(planes[0], E5M2);
  const split = dtype === "I8" ? ZIGZAG : NIBBLES;
  return planes.reduce((bits, p) => bits + fieldBits(p, split), 0);
}

/** Unpacked nibbles of `bytes`, low nibble first. */
function nibblesOf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 * bytes.length);
  for (let i = 0; i < bytes.length; i++) out[2 * i] = bytes[i] & 15, out[2 * i + 1] = bytes[i] >> 4;
  return out;
}

const QWEIGHT = /(^|[./_])qweight$/;

/** Tiles each tensor exactly as the writer does and sums the bounds of every chunk. */
export async function entropyBound(file: Uint8Array): Promise<Bound> {
  const header = await readSafetensorsHeader(bufferReader(file));
  let bits = 0, context = 0, chunks = 0, qRaw = 0, qBits = 0, anyQ = false;
  for (const t of header.tensors) {
    const layout = planeLayout(t.dtype), w = layout.width;
    const g = chooseTiles(t.shape, w, CHUNK_BYTES);
    const [gr, gc] = gridSize(g);
    const data = file.subarray(header.dataStart + t.begin, header.dataStart + t.end);
    const whole = { r0: 0, r1: g.rows, c0: 0, c1: g.cols };
    const packed = QWEIGHT.test(t.name) && t.shape.length === 2;
    for (let i = 0; i < gr * gc; i++) {
      const r = tileRect(g, i);
      const n = (r.r1 - r.r0) * (r.c1 - r.c0);
      const tile = new Uint8Array(n * w);
      copyTileRegion(g, i, tile, whole, data, true);
      const planes: Uint8Array[] = [];
      if (w === 1) planes.push(tile);
      else {
        const scratch = new Uint8Array(n * w);
        for (let p = 0; p < w; p++) planes.push(scratch.subarray(p * n, (p + 1) * n));
        splitPlanes(tile, w, layout.signMoved, planes);
      }
      for (const p of planes) bits += entropyBits(p);
      if (packed) {
        const nibbles = nibblesOf(tile), nb = entropyBits(nibbles, 16);
        context += conditionalBits(nibbles, previous(nibbles), 16, 16);
        qRaw += tile.length, qBits += nb, anyQ = true;
      } else context += contextBits(planes, t.dtype, layout.signMoved);
      chunks++;
    }
  }
  const packedHeader = nativeZstdCompress(header.headerBytes, 19).length;
  const headerBytes = Math.min(packedHeader, header.headerBytes.length);
  const entropyBytes = bits / 8, contextBytes = context / 8;
  const dataBytes = file.length - header.dataStart;
  return {
    entropyBytes,
    contextBytes,
    headerBytes,
    rawHeaderBytes: header.dataStart,
    dataBytes,
    chunks,
    tensors: header.tensors.length,
    ratio: file.length / (entropyBytes + headerBytes),
    contextRatio: file.length / (contextBytes + headerBytes),
    dataRatio: entropyBytes > 0 ? dataBytes / entropyBytes : Infinity,
    qweight: anyQ ? { rawBytes: qRaw, nibbleBytes: qBits / 8, ratio: qRaw / (qBits / 8) } : null,
  };
}
