/**
 * Dequantises an int8 tile (docs/FORMAT.md, "Variants: int8"): v = (q − z) × s in binary32, with
 * z = 0 for the symmetric scheme. Browser-safe.
 * @module
 */
import type { Rect } from "../tiles.ts";
import { groupsIn, type Int8Layout } from "./encoding.ts";
import { scaleReader } from "./scales.ts";
import type { ToBits } from "./bits.ts";

/**
 * Where a tile's elements go: the elements of `win` (a rectangle inside the tile, by default all
 * of it) land in the output from element `at`, their rows `stride` elements apart. Dequantising
 * only the part of a tile a request needs, straight into its place, saves both the rest and a
 * temporary: a 256 x 256 tile of a per-row int8 variant of a 2048-wide matrix decodes whole rows.
 */
export interface TileTarget {
  /** The part of the tile written (view coordinates). */
  readonly win: Rect;
  /** Output element of `win`'s first element. */
  readonly at: number;
  /** Output elements between rows. */
  readonly stride: number;
}

/** The whole of tile `t`, row-major from element 0. */
export function wholeTile(t: Rect): TileTarget {
  return { win: t, at: 0, stride: t.c1 - t.c0 };
}

/**
 * Writes the binary32 values of `target.win` of tile `t` into `out` as `target` places them (the
 * whole tile row-major by default), from the tile's sections `parts` (scales, [zero points],
 * codes).
 */
export function dequantiseInt8(
  e: Int8Layout,
  t: Rect,
  parts: readonly Uint8Array[],
  out: Float32Array,
  target: TileTarget = wholeTile(t),
): void {
  const { group, scheme } = e.params;
  const scale = scaleReader(parts[0], e.params.scale);
  const zeros = scheme === "asymmetric" ? parts[1] : null;
  const q = parts[scheme === "asymmetric" ? 2 : 1];
  const cols = t.c1 - t.c0, g0 = Math.floor(t.c0 / group), groups = groupsIn(t.c0, t.c1, group);
  const signed = scheme === "symmetric", { win, at, stride } = target;
  for (let r = win.r0 - t.r0; r < win.r1 - t.r0; r++) {
    for (let j = 0; j < groups; j++) {
      const a = Math.max(win.c0, (g0 + j) * group), b = Math.min(win.c1, (g0 + j + 1) * group);
      if (a >= b) continue;
      const k = r * groups + j;
      const s = scale(k), z = zeros ? zeros[k] : 0;
      const src = r * cols + a - t.c0, end = src + b - a;
      const dst = at + (r - (win.r0 - t.r0)) * stride + a - win.c0;
      if (signed) {
        for (let c = src, d = dst; c < end; c++, d++) out[d] = ((q[c] << 24) >> 24) * s;
      } else {
        for (let c = src, d = dst; c < end; c++, d++) out[d] = (q[c] - z) * s;
      }
      // 0 × ±infinity and NaN scales give NaN, written canonical (docs/FORMAT.md, "Values").
      if (!Number.isFinite(s)) {
        for (let d = dst; d < dst + b - a; d++) if (out[d] !== out[d]) out[d] = NaN;
      }
    }
  }
}

// Below this many elements per group, filling a 256-entry table costs more than it saves.
const TABLE_FROM = 64;

/**
 * As {@link dequantiseInt8}, writing the dtype's bits into `out` through `bits`: each group of
 * at least 64 elements fills a 256-entry table once, so an element costs one load and one store
 * (per-row int8 of a 2048-wide BF16 matrix, with the dtype conversion: 101 to 1,571 MB/s).
 * Without `target`, the whole tile at the start of `out`.
 */
export function dequantiseInt8Bits(
  e: Int8Layout,
  t: Rect,
  parts: readonly Uint8Array[],
  out: Uint16Array | Uint32Array,
  bits: ToBits,
  target?: TileTarget,
): void {
  const { group, scheme } = e.params;
  const scale = scaleReader(parts[0], e.params.scale);
  const zeros = scheme === "asymmetric" ? parts[1] : null;
  const q = parts[scheme === "asymmetric" ? 2 : 1];
  const cols = t.c1 - t.c0, g0 = Math.floor(t.c0 / group), groups = groupsIn(t.c0, t.c1, group);
  const signed = scheme === "symmetric";
  const table = out instanceof Uint16Array ? new Uint16Array(256) : new Uint32Array(256);
  if (target === undefined) {
    // The whole tile in a loop of its own: sharing the window's loop measured 5-14% slower on
    // whole tiles (2048 x 2048 to BF16, per CPU second, paired).
    for (let r = 0; r < t.r1 - t.r0; r++) {
      for (let j = 0; j < groups; j++) {
        const k = r * groups + j;
        const s = scale(k), z = zeros ? zeros[k] : 0;
        const a = r * cols + Math.max(t.c0, (g0 + j) * group) - t.c0;
        const b = r * cols + Math.min(t.c1, (g0 + j + 1) * group) - t.c0;
        if (b - a >= TABLE_FROM) {
          for (let c = 0; c < 256; c++) table[c] = bits(((signed ? (c << 24) >> 24 : c) - z) * s);
          for (let c = a; c < b; c++) out[c] = table[q[c]];
        } else {
          for (let c = a; c < b; c++) out[c] = bits(((signed ? (q[c] << 24) >> 24 : q[c]) - z) * s);
        }
      }
    }
    return;
  }
  const { win, at, stride } = target;
  for (let r = win.r0 - t.r0; r < win.r1 - t.r0; r++) {
    for (let j = 0; j < groups; j++) {
      const a = Math.max(win.c0, (g0 + j) * group), b = Math.min(win.c1, (g0 + j + 1) * group);
      if (a >= b) continue;
      const k = r * groups + j;
      const s = scale(k), z = zeros ? zeros[k] : 0;
      const src = r * cols + a - t.c0, end = src + b - a;
      let d = at + (r - (win.r0 - t.r0)) * stride + a - win.c0;
      if (b - a >= TABLE_FROM) {
        for (let c = 0; c < 256; c++) table[c] = bits(((signed ? (c << 24) >> 24 : c) - z) * s);
        for (let c = src; c < end; c++, d++) out[d] = table[q[c]];
      } else {
        for (let c = src; c < end; c++, d++) {
          out[d] = bits(((signed ? (q[c] << 24) >> 24 : q[c]) - z) * s);
        }
      }
    }
  }
}
