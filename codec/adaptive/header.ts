/**
 * The header of an adaptive plane payload (docs/FORMAT.md, "Adaptive planes"), read by the
 * decoder and written by the encoder. Browser-safe.
 * @module
 */
import { CodecError } from "../errors.ts";
import {
  CONTEXT_COLUMN,
  CONTEXT_NONE,
  CONTEXT_PREVIOUS,
  MAX_COLUMNS,
  MAX_LANES,
  MODEL_MANTISSA,
  MODEL_NIBBLES,
  MODEL_RANK,
  STATE_LOW,
} from "./constants.ts";

/** What a payload's header says. */
export interface AdaptiveHeader {
  /** MODEL_BYTE, MODEL_RANK, MODEL_MANTISSA or MODEL_NIBBLES. */
  readonly model: number;
  /** Context of an element's first symbol: CONTEXT_NONE, CONTEXT_COLUMN or CONTEXT_PREVIOUS. */
  readonly context: number;
  /** The byte transform (MODEL_BYTE) or low-nibble mode (MODEL_MANTISSA); 0 otherwise. */
  readonly variant: number;
  /** Segments coded side by side: 1, 2 or 4. */
  readonly lanes: number;
  /** Tile width: elements per row, for the column context. */
  readonly cols: number;
  /** MODEL_NIBBLES: bytes per tile element (a column's bytes are consecutive); else 1. */
  readonly elementBytes: number;
  /** MODEL_RANK and MODEL_MANTISSA: up to 15 distinct byte values; else empty. */
  readonly values: Uint8Array;
}

/** Where a header's fields lie: model, flags, then the tile width (u32). */
const FIXED_BYTES = 6;

/** Bytes {@link writeHeader} writes for `h`, before the lane states. */
export function headerBytes(h: AdaptiveHeader): number {
  if (h.model === MODEL_NIBBLES) return FIXED_BYTES + 1;
  if (h.model === MODEL_RANK || h.model === MODEL_MANTISSA) {
    return FIXED_BYTES + 1 + h.values.length;
  }
  return FIXED_BYTES;
}

/** Writes `h` at the start of `out`; returns the bytes written. */
export function writeHeader(h: AdaptiveHeader, out: Uint8Array): number {
  out[0] = h.model;
  out[1] = h.context | (h.variant << 2) | (Math.log2(h.lanes) << 4);
  new DataView(out.buffer, out.byteOffset).setUint32(2, h.cols, true);
  let p = FIXED_BYTES;
  if (h.model === MODEL_NIBBLES) out[p++] = h.elementBytes;
  if (h.model === MODEL_RANK || h.model === MODEL_MANTISSA) {
    out[p++] = h.values.length;
    out.set(h.values, p);
    p += h.values.length;
  }
  return p;
}

/**
 * Reads and checks a header and the lane states; returns the header and the offset of the lane
 * states (then `lanes - 1` stream lengths, then the streams).
 */
export function readHeader(src: Uint8Array): [AdaptiveHeader, number] {
  const bad = (what: string): never => {
    throw new CodecError("corrupt", `adaptive plane: ${what}`);
  };
  if (src.length < FIXED_BYTES) {
    throw new CodecError("truncated", "adaptive plane header is cut off");
  }
  const model = src[0], flags = src[1];
  if (model > MODEL_NIBBLES) {
    throw new CodecError("unknown_codec", `adaptive plane model ${model} is not 0-3`);
  }
  const context = flags & 3, variant = (flags >> 2) & 3, lanesLog = (flags >> 4) & 3;
  if (context > CONTEXT_PREVIOUS) bad(`context ${context} is not 0-2`);
  if (lanesLog > 2 || flags >> 6) bad(`flags ${flags} set reserved bits`);
  const cols = new DataView(src.buffer, src.byteOffset).getUint32(2, true);
  if (cols < 1) bad("tile width 0");
  if (context === CONTEXT_COLUMN && cols > MAX_COLUMNS) {
    bad(`column context over ${cols} columns, at most ${MAX_COLUMNS}`);
  }
  if (model === MODEL_MANTISSA && context !== CONTEXT_NONE) bad("mantissa model with a context");
  if ((model === MODEL_RANK || model === MODEL_NIBBLES) && variant !== 0) bad("variant set");
  if (model === MODEL_MANTISSA && variant > 1) bad(`low nibble mode ${variant} is not 0-1`);
  let p = FIXED_BYTES, elementBytes = 1, values = new Uint8Array(0);
  if (model === MODEL_NIBBLES) {
    if (src.length < p + 1) throw new CodecError("truncated", "adaptive plane header is cut off");
    elementBytes = src[p++];
    if (elementBytes < 1 || elementBytes > 8) bad(`element bytes ${elementBytes} is not 1-8`);
  }
  if (model === MODEL_RANK || model === MODEL_MANTISSA) {
    if (src.length < p + 1) throw new CodecError("truncated", "adaptive plane header is cut off");
    const count = src[p++];
    if (count < 1 || count > 15) bad(`value count ${count} is not 1-15`);
    if (src.length < p + count) {
      throw new CodecError("truncated", "adaptive plane values are cut off");
    }
    values = src.slice(p, p + count);
    p += count;
    const seen = new Uint8Array(256);
    for (const v of values) {
      if (seen[v]++) bad(`value ${v} listed twice`);
    }
  }
  const lanes = 1 << lanesLog;
  if (lanes > MAX_LANES) bad(`${lanes} lanes`);
  if (src.length < p + 8 * lanes - 4) {
    throw new CodecError("truncated", "adaptive lane states are cut off");
  }
  for (let k = 0; k < lanes; k++) {
    const x = new DataView(src.buffer, src.byteOffset).getUint32(p + 4 * k, true);
    if (x < STATE_LOW || x >= 2 ** 31) bad(`lane ${k} state ${x} lies outside [2^23, 2^31)`);
  }
  return [{ model, context, variant, lanes, cols, elementBytes, values }, p];
}
