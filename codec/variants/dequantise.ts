/**
 * Dequantises any rectangle of a lossy variant to the tensor's own dtype, from the decoded
 * sections of only the chunks that hold it (docs/FORMAT.md, "Variants"). Browser-safe; imports no
 * encoder.
 * @module
 */
import { type Dtype, dtypeWidth } from "../dtype.ts";
import { matrixShape, type Rect, tileRect } from "../tiles.ts";
import { chunksFor, lowRankPart, variantGeometry, type VariantLayout } from "./encoding.ts";

// From this group width a 256-entry table per group beats computing each element and converting
// it: filling the table costs 256 conversions per group.
const INT8_TABLE_FROM = 1024;
import { fromFloat32, toFloat32 } from "./float.ts";
import { dequantiseInt8, dequantiseInt8Bits } from "./int8_decode.ts";
import { dequantiseTernary, dequantiseTernaryBits, ternaryScratch } from "./ternary_decode.ts";
import { toBits, wordView } from "./bits.ts";
import { dequantiseLowRank, factorValues } from "./lowrank_decode.ts";
import { scatterSparse } from "./sparse_decode.ts";

/** The decoded sections of chunk `i` (each a view of the chunk's checked payload). */
export type SectionSource = (i: number) => readonly Uint8Array[];

/**
 * Writes `rect` of the variant's view, row-major in `dtype`, into `out`, decoding only the
 * chunks {@link chunksFor} names.
 */
export function dequantiseRect(
  e: VariantLayout,
  dtype: Dtype,
  rect: Rect,
  sections: SectionSource,
  out: Uint8Array,
): void {
  const width = dtypeWidth(dtype), outCols = rect.c1 - rect.c0;
  if (e.kind === "lowrank") {
    const needed = chunksFor(e, rect);
    const s = toFloat32(sections(0)[0], "F32");
    const u = gather(e, needed, "U", sections), v = gather(e, needed, "V", sections);
    const values = new Float32Array((rect.r1 - rect.r0) * outCols);
    dequantiseLowRank(e, rect, s, u.values, u.row0, v.values, v.row0, values);
    fromFloat32(values, dtype, out);
    return;
  }
  const g = variantGeometry(e);
  const scratch = ternaryScratch();
  const bits = toBits(dtype);
  const outStride = outCols * width;
  // int8 and ternary tiles are dequantised only where they meet the rectangle, straight into
  // `out`: no temporary, nothing outside the request. 2048 x 2048 to BF16, per CPU second: in the
  // planner's 128-row bands, int8 226 -> 1,797 MB/s and ternary:3 976 -> 1,138 (a fresh 512 KiB
  // temporary per band cost its page faults and a copy); a 256 x 256 tile of the per-row
  // variants, whose chunks hold whole rows, costs 3.7 ms (int8; was 4.3) and 2.2 ms (ternary:3;
  // was 4.1) of CPU against 0.9 for the lossless tile: decoding the rows' codes is most of it.
  const aligned = out.byteOffset % width === 0;
  const words = bits && aligned
    ? wordView(out.subarray(0, out.length - (out.length % width)), dtype)
    : null;
  let values = new Float32Array(0), bytes = new Uint8Array(0);
  for (const i of chunksFor(e, rect)) {
    const t = tileRect(g, i), n = (t.r1 - t.r0) * (t.c1 - t.c0);
    const parts = sections(i);
    if (e.kind === "int8" || e.kind === "ternary") {
      const win = {
        r0: Math.max(t.r0, rect.r0),
        r1: Math.min(t.r1, rect.r1),
        c0: Math.max(t.c0, rect.c0),
        c1: Math.min(t.c1, rect.c1),
      };
      const at = (win.r0 - rect.r0) * outCols + win.c0 - rect.c0;
      const target = { win, at, stride: outCols };
      const wcEq = outCols === t.c1 - t.c0;
      // Words through per-group tables (int8 from INT8_TABLE_FROM columns a group), or for F32
      // int8 a multiply per element; else binary32 values converted row by row.
      if (words && e.kind === "ternary") {
        dequantiseTernaryBits(e, t, parts, words, bits!, scratch, target);
        continue;
      }
      if (words && dtype === "F32" && e.kind === "int8") {
        const f32 = new Float32Array(words.buffer, words.byteOffset, words.length);
        dequantiseInt8(e, t, parts, f32, target);
        continue;
      }
      if (words && e.kind === "int8" && e.params.group >= INT8_TABLE_FROM) {
        // A whole tile of the rectangle's width goes through the kernel's one-index loop.
        if (win.c0 === t.c0 && win.c1 === t.c1 && win.r0 === t.r0 && win.r1 === t.r1 && wcEq) {
          dequantiseInt8Bits(e, t, parts, words.subarray(at, at + n), bits!);
        } else dequantiseInt8Bits(e, t, parts, words, bits!, target);
        continue;
      }
      const wr = win.r1 - win.r0, wc = win.c1 - win.c0;
      if (values.length < wr * wc) values = new Float32Array(wr * wc);
      const v = values.subarray(0, wr * wc), local = { win, at: 0, stride: wc };
      if (e.kind === "int8") dequantiseInt8(e, t, parts, v, local);
      else dequantiseTernary(e, t, parts, v, scratch, local);
      // One conversion for the window, then its rows copied unless they are contiguous in
      // `out`: a conversion per row (views made per call) measured 289-422 against 404-607 MB/s
      // for int8:g128 to BF16.
      if (wc === outCols) {
        fromFloat32(v, dtype, out.subarray(at * width, (at + wr * wc) * width));
        continue;
      }
      if (bytes.length < wr * wc * width) bytes = new Uint8Array(wr * wc * width);
      fromFloat32(v, dtype, bytes.subarray(0, wr * wc * width));
      for (let r = 0; r < wr; r++) {
        const to = (at + r * outCols) * width;
        out.set(bytes.subarray(r * wc * width, (r + 1) * wc * width), to);
      }
      continue;
    }
    // A tile of the rectangle's columns whose rows lie in it is in the rectangle's order already.
    const at = (t.r0 - rect.r0) * outStride;
    const direct = t.c0 === rect.c0 && t.c1 === rect.c1 && t.r0 >= rect.r0 && t.r1 <= rect.r1;
    if (!direct && bytes.length < n * width) bytes = new Uint8Array(n * width);
    const tile = direct ? out.subarray(at, at + n * width) : bytes.subarray(0, n * width);
    if (e.kind === "sparse") {
      if (e.params.layout === "dense") tile.set(parts[0]);
      else scatterSparse(parts[0], parts[1], width, n, tile);
    } else if (e.params.dtype === dtype) {
      tile.set(parts[0]);
    } else {
      if (values.length < n) values = new Float32Array(n);
      const v = values.subarray(0, n);
      toFloat32(parts[0], e.params.dtype, v);
      for (let k = 0; k < n; k++) if (v[k] !== v[k]) v[k] = NaN; // canonical NaN
      fromFloat32(v, dtype, tile);
    }
    if (!direct) copyIntersection(t, tile, rect, out, width);
  }
}

// Copies the part of tile `t` (bytes row-major) inside `rect` into `out` (rect row-major).
function copyIntersection(t: Rect, tile: Uint8Array, rect: Rect, out: Uint8Array, w: number) {
  const r0 = Math.max(t.r0, rect.r0), r1 = Math.min(t.r1, rect.r1);
  const c0 = Math.max(t.c0, rect.c0), c1 = Math.min(t.c1, rect.c1);
  const tileStride = (t.c1 - t.c0) * w, outStride = (rect.c1 - rect.c0) * w, span = (c1 - c0) * w;
  for (let r = r0; r < r1; r++) {
    const a = (r - t.r0) * tileStride + (c0 - t.c0) * w;
    out.set(tile.subarray(a, a + span), (r - rect.r0) * outStride + (c0 - rect.c0) * w);
  }
}

// The U or V rows the needed bands hold, as one binary32 array starting at row `row0`.
function gather(
  e: VariantLayout & { kind: "lowrank" },
  needed: number[],
  part: "U" | "V",
  sections: SectionSource,
): { values: Float32Array; row0: number } {
  const bands = needed.map((i) => ({ i, p: lowRankPart(e, i) })).filter((b) => b.p.part === part);
  const row0 = bands[0].p.begin, rows = bands[bands.length - 1].p.end - row0;
  const values = new Float32Array(rows * e.params.rank);
  for (const b of bands) {
    values.set(factorValues(sections(b.i)[0], e.params.factor), (b.p.begin - row0) * e.params.rank);
  }
  return { values, row0 };
}

/**
 * The rectangle of the variant's view that dequantising `rect` of the tensor's own matrix view
 * (rows × last dimension) decodes: `rect` itself where the views agree, else the view rows that
 * hold its elements.
 */
export function viewRectFor(e: VariantLayout, shape: readonly number[], rect: Rect): Rect {
  const [rows, cols] = matrixShape(shape);
  if (e.view[0] === rows && e.view[1] === cols) return rect;
  if (rect.r0 >= rect.r1 || rect.c0 >= rect.c1) return { r0: 0, r1: 0, c0: 0, c1: 0 };
  const vc = e.view[1];
  const first = rect.r0 * cols + rect.c0, last = (rect.r1 - 1) * cols + rect.c1;
  return { r0: Math.floor(first / vc), r1: Math.ceil(last / vc), c0: 0, c1: vc };
}

/** The chunks dequantising `rect` of the tensor's own matrix view needs. */
export function chunksForRegion(e: VariantLayout, shape: readonly number[], rect: Rect): number[] {
  return chunksFor(e, viewRectFor(e, shape, rect));
}

/**
 * Writes `rect` of the tensor's own matrix view (rows × last dimension, as tiles and slices
 * address it) into `out` in `dtype`. Where the variant's view differs, the view rows that hold
 * the rectangle's elements are dequantised and the rectangle gathered from them.
 */
export function dequantiseRegion(
  e: VariantLayout,
  dtype: Dtype,
  shape: readonly number[],
  rect: Rect,
  sections: SectionSource,
  out: Uint8Array,
): void {
  const [rows, cols] = matrixShape(shape);
  if (rect.r0 >= rect.r1 || rect.c0 >= rect.c1) return;
  if (e.view[0] === rows && e.view[1] === cols) {
    dequantiseRect(e, dtype, rect, sections, out);
    return;
  }
  const w = dtypeWidth(dtype), vc = e.view[1];
  const v = viewRectFor(e, shape, rect), vr0 = v.r0;
  const temp = new Uint8Array((v.r1 - v.r0) * vc * w);
  dequantiseRect(e, dtype, v, sections, temp);
  const base = vr0 * vc, span = (rect.c1 - rect.c0) * w;
  for (let r = rect.r0; r < rect.r1; r++) {
    const from = (r * cols + rect.c0 - base) * w;
    out.set(temp.subarray(from, from + span), (r - rect.r0) * span);
  }
}
