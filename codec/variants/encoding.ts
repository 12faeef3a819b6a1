/**
 * Variant encodings as the index records them (docs/FORMAT.md, "Variants"), and the layout rules
 * both sides share: which chunks a variant has, which sections each chunk holds, and how many
 * bytes each section decodes to. Browser-safe; imports no encoder.
 * @module
 */
import { type Dtype, dtypeWidth, type PlaneLayout, planeLayout } from "../dtype.ts";
import { gridSize, type Rect, type TileGeometry, tileRect, tilesCovering } from "../tiles.ts";

/** One chunk: stored offset, stored length, raw length, XXH32 of stored bytes, of raw bytes. */
export type VariantChunkRecord = [number, number, number, number, number];

/** The measured error of a variant against the original, over the original's finite elements. */
export interface VariantError {
  /** ‖W − W'‖ / ‖W‖ (Frobenius), or null if not finite. */
  readonly relRmse: number | null;
  /** max |W − W'|, or null if not finite. */
  readonly maxAbs: number | null;
}

/** Where a lossy encoding's tiles lie: its view and tile size. */
interface Geometry {
  /** `[rows, cols]`: the tensor split after some leading dimensions ({@link isViewOf}). */
  readonly view: [number, number];
  /** `[tileRows, tileCols]` over the view. */
  readonly tile: [number, number];
}

/** What the index records of a lossy encoding besides its layout. */
interface Recorded {
  /** The variant this encoding belongs to: the spec it was derived with, e.g. `int8:g128`. */
  readonly name: string;
  /** Why this representation was chosen. */
  readonly reason: string;
  /** The chunk records, in the kind's chunk order. */
  readonly chunks: VariantChunkRecord[];
  /** Measured error. */
  readonly error: VariantError;
  /** SHA-256 (lower-case hex) of the whole tensor dequantised to its dtype. */
  readonly sha256: string;
}

/** Scale element types. */
export type ScaleDtype = "F16" | "F32";

/** 8-bit integers with a scale (and a zero point) per group of columns of each row. */
export interface Int8Layout extends Geometry {
  readonly kind: "int8";
  readonly params: {
    readonly scheme: "symmetric" | "asymmetric";
    /** Columns per scale group; a group never spans two tiles. */
    readonly group: number;
    readonly scale: ScaleDtype;
  };
}

/** A down-cast to a 16-bit float. */
export interface CastLayout extends Geometry {
  readonly kind: "cast";
  readonly params: { readonly dtype: "F16" | "BF16" };
}

/** N ternary bases with per-group scales: W ≈ Σₖ αₖ·Tₖ. */
export interface TernaryLayout extends Geometry {
  readonly kind: "ternary";
  readonly params: {
    readonly bases: number;
    readonly group: number;
    readonly scale: ScaleDtype;
    /** `2bit`: one byte per element, 2 bits per base; `base3`: 5 trits per byte. */
    readonly packing: "2bit" | "base3";
  };
}

/** A truncated singular value decomposition U·diag(S)·Vᵀ. */
export interface LowRankLayout extends Geometry {
  readonly kind: "lowrank";
  readonly params: { readonly rank: number; readonly factor: "F16" | "BF16" };
}

/** Elements of magnitude below a threshold dropped; the rest kept exactly. */
export interface SparseLayout extends Geometry {
  readonly kind: "sparse";
  readonly params: { readonly threshold: number; readonly layout: "coo" | "dense" };
}

/**
 * What decoding and dequantising need of a lossy encoding: its kind, view, tiles and parameters,
 * without its chunk records, name or measurements. Plain and small, so that it is what the planner
 * posts to decode workers.
 */
export type VariantLayout = Int8Layout | CastLayout | TernaryLayout | LowRankLayout | SparseLayout;

/** An int8 encoding as the index records it. */
export interface Int8Encoding extends Int8Layout, Recorded {}
/** A cast encoding as the index records it. */
export interface CastEncoding extends CastLayout, Recorded {}
/** A ternary encoding as the index records it. */
export interface TernaryEncoding extends TernaryLayout, Recorded {}
/** A low-rank encoding as the index records it. */
export interface LowRankEncoding extends LowRankLayout, Recorded {}
/** A sparse encoding as the index records it. */
export interface SparseEncoding extends SparseLayout, Recorded {}

/** The variant keeps this tensor exact: its lossless encoding serves it. */
export interface ExactEncoding {
  readonly kind: "exact";
  readonly name: string;
  readonly reason: string;
}

/** Every lossy variant encoding. */
export type LossyEncoding =
  | Int8Encoding
  | CastEncoding
  | TernaryEncoding
  | LowRankEncoding
  | SparseEncoding;

/** Every variant encoding. */
export type VariantEncoding = LossyEncoding | ExactEncoding;

/** The variant kinds this version defines. */
export const VARIANT_KINDS = ["int8", "cast", "ternary", "lowrank", "sparse", "exact"] as const;

/** Variant names: the spec string, safe in URLs, paths and revision names. */
export const VARIANT_NAME = /^[a-z0-9][a-z0-9.:=_-]{0,63}$/;

/**
 * The layout of `e`: only what decoding needs, a small plain object.
 *
 * @example
 * ```ts ignore
 * variantLayout(e); // { kind: "int8", view: [64, 64], tile: [64, 64], params: { … } }
 * ```
 */
export function variantLayout(e: VariantLayout): VariantLayout {
  return { kind: e.kind, view: e.view, tile: e.tile, params: e.params } as VariantLayout;
}

/** Whether `e` (any encoding) is a lossy variant of a kind this version defines. */
export function isLossy(e: { kind: string }): e is LossyEncoding {
  return e.kind === "int8" || e.kind === "cast" || e.kind === "ternary" ||
    e.kind === "lowrank" || e.kind === "sparse";
}

/** The layout of a section: its element width and whether its sign bit moves (as a dtype). */
export function sectionLayout(dtype: Dtype): PlaneLayout {
  return planeLayout(dtype);
}

const U8: PlaneLayout = planeLayout("U8");
const U32: PlaneLayout = planeLayout("U32");

/** The view's tile grid (element width 1: only the rectangles matter). */
export function variantGeometry(e: VariantLayout): TileGeometry {
  return { rows: e.view[0], cols: e.view[1], tileRows: e.tile[0], tileCols: e.tile[1], width: 1 };
}

/** How many chunks a variant of this shape has. */
export function chunkCount(e: VariantLayout): number {
  const [gr, gc] = gridSize(variantGeometry(e));
  if (e.kind !== "lowrank") return gr * gc;
  if (gr * gc === 0) return 0;
  return 1 + gr + gc;
}

/** What a chunk holds: its sections' layouts and decoded byte lengths (null: data-dependent). */
export interface ChunkLayout {
  readonly layouts: PlaneLayout[];
  readonly rawLengths: (number | null)[];
}

/** Groups of `group` columns that intersect columns [c0, c1). */
export function groupsIn(c0: number, c1: number, group: number): number {
  return Math.ceil(c1 / group) - Math.floor(c0 / group);
}

/** The low-rank chunk `i`: 0 is S, then U bands of tile rows, then V bands of tile columns. */
export function lowRankPart(
  e: LowRankLayout,
  i: number,
): { part: "S" | "U" | "V"; begin: number; end: number } {
  const g = variantGeometry(e);
  const [gr] = gridSize(g);
  if (i === 0) return { part: "S", begin: 0, end: e.params.rank };
  if (i <= gr) {
    const b = i - 1;
    return { part: "U", begin: b * g.tileRows, end: Math.min(g.rows, (b + 1) * g.tileRows) };
  }
  const b = i - 1 - gr;
  return { part: "V", begin: b * g.tileCols, end: Math.min(g.cols, (b + 1) * g.tileCols) };
}

/** The sections of chunk `i` of `e`, a variant of a tensor of `dtype`. */
export function chunkLayout(e: VariantLayout, dtype: Dtype, i: number): ChunkLayout {
  if (e.kind === "lowrank") {
    const p = lowRankPart(e, i), r = e.params.rank;
    if (p.part === "S") return { layouts: [sectionLayout("F32")], rawLengths: [4 * r] };
    const fw = dtypeWidth(e.params.factor);
    return { layouts: [sectionLayout(e.params.factor)], rawLengths: [(p.end - p.begin) * r * fw] };
  }
  const t = tileRect(variantGeometry(e), i);
  const rows = t.r1 - t.r0, cols = t.c1 - t.c0, n = rows * cols;
  switch (e.kind) {
    case "int8": {
      const groups = rows * groupsIn(t.c0, t.c1, e.params.group);
      const sw = dtypeWidth(e.params.scale);
      return e.params.scheme === "symmetric"
        ? { layouts: [sectionLayout(e.params.scale), U8], rawLengths: [groups * sw, n] }
        : {
          layouts: [sectionLayout(e.params.scale), U8, U8],
          rawLengths: [groups * sw, groups, n],
        };
    }
    case "cast":
      return {
        layouts: [sectionLayout(e.params.dtype)],
        rawLengths: [n * dtypeWidth(e.params.dtype)],
      };
    case "ternary": {
      const groups = rows * groupsIn(t.c0, t.c1, e.params.group);
      const sw = dtypeWidth(e.params.scale), bases = e.params.bases;
      const trits = e.params.packing === "2bit" ? n : Math.ceil((n * bases) / 5);
      return {
        layouts: [sectionLayout(e.params.scale), U8],
        rawLengths: [groups * bases * sw, trits],
      };
    }
    case "sparse":
      return e.params.layout === "dense"
        ? { layouts: [sectionLayout(dtype)], rawLengths: [n * dtypeWidth(dtype)] }
        : { layouts: [U32, sectionLayout(dtype)], rawLengths: [null, null] };
  }
}

/** The chunks whose payloads dequantising `rect` of the view needs, in chunk order. */
export function chunksFor(e: VariantLayout, rect: Rect): number[] {
  const g = variantGeometry(e);
  if (rect.r0 >= rect.r1 || rect.c0 >= rect.c1) return [];
  if (e.kind !== "lowrank") return tilesCovering(g, rect);
  const [gr] = gridSize(g);
  const out = [0];
  for (let b = Math.floor(rect.r0 / g.tileRows); b < Math.ceil(rect.r1 / g.tileRows); b++) {
    out.push(1 + b);
  }
  for (let b = Math.floor(rect.c0 / g.tileCols); b < Math.ceil(rect.c1 / g.tileCols); b++) {
    out.push(1 + gr + b);
  }
  return out;
}
