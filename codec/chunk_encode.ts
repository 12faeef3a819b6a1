/**
 * Encodes one chunk: split into planes, code each plane with the cheapest codec, prepend the plane
 * table (docs/FORMAT.md, "Chunks"). Browser-safe; zstd is injected because no portable encoder is
 * fast enough.
 * @module
 */
import type { PlaneLayout } from "./dtype.ts";
import { splitPlanes } from "./planes.ts";
import {
  CODEC_CONST,
  CODEC_HUFFMAN,
  CODEC_RANS,
  CODEC_RAW,
  CODEC_ZSTD,
  PLANE_ENTRY_BYTES,
} from "./plane_codec.ts";
import { ransBound, ransEncode } from "./rans/encode.ts";
import { huffmanBound, huffmanEncode } from "./huffman/encode.ts";
import { countSymbols } from "./rans/table_write.ts";

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
}

/** Empty scratch for {@link EncodeOptions.scratch}. */
export function encodeScratch(): EncodeScratch {
  return {
    planes: new Uint8Array(0),
    rans: new Uint8Array(0),
    huffman: new Uint8Array(0),
    words: new Uint16Array(0),
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
  if (s.planes.length < raw.length) s.planes = new Uint8Array(raw.length);
  if (s.rans.length < ransBound(n)) s.rans = new Uint8Array(ransBound(n));
  if (s.huffman.length < huffmanBound(n)) s.huffman = new Uint8Array(huffmanBound(n));
  if (s.words.length < n + 1) s.words = new Uint16Array(n + 1);
  const planes: Uint8Array[] = [];
  for (let p = 0; p < width; p++) planes.push(s.planes.subarray(p * n, (p + 1) * n));
  if (width === 1) planes[0] = raw;
  else splitPlanes(raw, width, layout.signMoved, planes);

  const codecs: number[] = [], payloads: Uint8Array[] = [];
  for (let p = 0; p < width; p++) {
    const [codec, payload] = encodePlane(planes[p], options, s, p === width - 1);
    codecs.push(codec);
    // Views into the scratch are overwritten by the next plane; a raw plane is overwritten by
    // the next chunk, but it is copied into the output below, before that.
    payloads.push(
      payload.buffer === s.rans.buffer || payload.buffer === s.huffman.buffer
        ? payload.slice()
        : payload,
    );
  }
  const headerBytes = 1 + width * PLANE_ENTRY_BYTES;
  let total = headerBytes;
  for (const p of payloads) total += p.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = width;
  let pos = headerBytes;
  for (let p = 0; p < width; p++) {
    out[1 + p * PLANE_ENTRY_BYTES] = codecs[p];
    view.setUint32(2 + p * PLANE_ENTRY_BYTES, payloads[p].length, true);
    out.set(payloads[p], pos);
    pos += payloads[p].length;
  }
  return out;
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
