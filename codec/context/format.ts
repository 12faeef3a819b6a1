/**
 * The header of a context rANS payload (codec 6, docs/FORMAT.md "Context rANS"), read by the
 * decoder and written by the encoder. Browser-safe.
 * @module
 */
import { CodecError } from "../errors.ts";

/**
 * Context byte: the previous byte of the same rANS lane, 4 bytes back (0 for the first four). Not
 * the byte just before: that would chain every symbol's table to the one decoded just before it,
 * and the native decoder measured 7.2 ns a byte that way against 2.0 for codec 2 (ppocrv4.e4m3,
 * a 256 KiB tile); 4 back keeps the four lanes independent.
 */
export const SOURCE_PREVIOUS = 0;
/** Context byte: the byte one tile row up, `cols` bytes back (0 in the first row). */
export const SOURCE_ROW_ABOVE = 1;
/** Context byte: the byte at the same position of plane `p + 1`, decoded before this one. */
export const SOURCE_PLANE_ABOVE = 2;
/** The narrowest row the row-above source allows: narrower rows would chain the lanes. */
export const MIN_COLS = 4;
/** The most classes (frequency tables) a payload may have. */
export const MAX_CLASSES = 8;

/** What a payload's header says. */
export interface ContextHeader {
  /** Where the context byte of each symbol comes from. */
  readonly source: number;
  /** The context byte is shifted right by this much to give its key (0-7). */
  readonly shift: number;
  /** Bytes per tile row ({@link SOURCE_ROW_ABOVE} only; else 0). */
  readonly cols: number;
  /** Number of classes, 2 to {@link MAX_CLASSES}. */
  readonly classes: number;
  /** Class of every key `0 … (255 >> shift)`; keys not listed in the payload are class 0. */
  readonly classOfKey: Uint8Array;
}

/** Bytes {@link writeContextHeader} writes for `h`. */
export function contextHeaderBytes(h: ContextHeader): number {
  let listed = 0;
  for (const c of h.classOfKey) if (c) listed++;
  return 2 + (h.source === SOURCE_ROW_ABOVE ? 4 : 0) + 2 + 2 * listed;
}

/** Writes `h` at the start of `out`; returns the bytes written. */
export function writeContextHeader(h: ContextHeader, out: Uint8Array): number {
  out[0] = h.source;
  out[1] = h.shift;
  let p = 2;
  if (h.source === SOURCE_ROW_ABOVE) {
    new DataView(out.buffer, out.byteOffset).setUint32(p, h.cols, true);
    p += 4;
  }
  out[p++] = h.classes;
  const countAt = p++;
  let listed = 0;
  for (let key = 0; key < h.classOfKey.length; key++) {
    if (h.classOfKey[key]) out[p++] = key, out[p++] = h.classOfKey[key], listed++;
  }
  out[countAt] = listed;
  return p;
}

/** Reads and checks a header; returns it and the offset of the first frequency table. */
export function readContextHeader(
  src: Uint8Array,
  hasPlaneAbove: boolean,
): [ContextHeader, number] {
  const bad = (what: string): never => {
    throw new CodecError("corrupt", `context plane: ${what}`);
  };
  const cut = (): never => {
    throw new CodecError("truncated", "context plane header is cut off");
  };
  if (src.length < 2) cut();
  const source = src[0], shift = src[1];
  if (source > SOURCE_PLANE_ABOVE) bad(`source ${source} is not 0-2`);
  if (shift > 7) bad(`shift ${shift} is not 0-7`);
  if (source === SOURCE_PLANE_ABOVE && !hasPlaneAbove) bad("plane-above context on the top plane");
  let p = 2, cols = 0;
  if (source === SOURCE_ROW_ABOVE) {
    if (src.length < p + 4) cut();
    cols = new DataView(src.buffer, src.byteOffset, src.byteLength).getUint32(p, true);
    if (cols < MIN_COLS) bad(`row width ${cols}, less than ${MIN_COLS}`);
    p += 4;
  }
  if (src.length < p + 2) cut();
  const classes = src[p], listed = src[p + 1];
  p += 2;
  if (classes < 2 || classes > MAX_CLASSES) bad(`${classes} classes, not 2-${MAX_CLASSES}`);
  const keys = 256 >> shift, classOfKey = new Uint8Array(keys);
  if (src.length < p + 2 * listed) cut();
  for (let i = 0, last = -1; i < listed; i++, p += 2) {
    const key = src[p], c = src[p + 1];
    if (key <= last || key >= keys) bad(`key ${key} out of order or above ${keys - 1}`);
    if (c < 1 || c >= classes) bad(`key ${key} has class ${c}, not 1-${classes - 1}`);
    classOfKey[key] = c;
    last = key;
  }
  return [{ source, shift, cols, classes, classOfKey }, p];
}
