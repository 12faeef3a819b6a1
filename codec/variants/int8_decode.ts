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
 * Writes the binary32 values of tile `t` (the whole tile, row-major) into `out`, from the tile's
 * sections `parts` (scales, [zero points], codes).
 */
export function dequantiseInt8(
  e: Int8Layout,
  t: Rect,
  parts: readonly Uint8Array[],
  out: Float32Array,
): void {
  const { group, scheme } = e.params;
  const scale = scaleReader(parts[0], e.params.scale);
  const zeros = scheme === "asymmetric" ? parts[1] : null;
  const q = parts[scheme === "asymmetric" ? 2 : 1];
  const cols = t.c1 - t.c0, g0 = Math.floor(t.c0 / group), groups = groupsIn(t.c0, t.c1, group);
  const signed = scheme === "symmetric";
  for (let r = 0; r < t.r1 - t.r0; r++) {
    for (let j = 0; j < groups; j++) {
      const k = r * groups + j;
      const s = scale(k), z = zeros ? zeros[k] : 0;
      const a = Math.max(t.c0, (g0 + j) * group) - t.c0;
      const b = Math.min(t.c1, (g0 + j + 1) * group) - t.c0;
      const row = r * cols;
      if (signed) {
        for (let c = a; c < b; c++) out[row + c] = ((q[row + c] << 24) >> 24) * s;
      } else {
        for (let c = a; c < b; c++) out[row + c] = (q[row + c] - z) * s;
      }
      // 0 × ±infinity and NaN scales give NaN, written canonical (docs/FORMAT.md, "Values").
      if (!Number.isFinite(s)) {
        for (let c = row + a; c < row + b; c++) if (out[c] !== out[c]) out[c] = NaN;
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
 */
export function dequantiseInt8Bits(
  e: Int8Layout,
  t: Rect,
  parts: readonly Uint8Array[],
  out: Uint16Array | Uint32Array,
  bits: ToBits,
): void {
  const { group, scheme } = e.params;
  const scale = scaleReader(parts[0], e.params.scale);
  const zeros = scheme === "asymmetric" ? parts[1] : null;
  const q = parts[scheme === "asymmetric" ? 2 : 1];
  const cols = t.c1 - t.c0, g0 = Math.floor(t.c0 / group), groups = groupsIn(t.c0, t.c1, group);
  const signed = scheme === "symmetric";
  const table = out instanceof Uint16Array ? new Uint16Array(256) : new Uint32Array(256);
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
}
