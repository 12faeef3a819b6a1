/**
 * Element widths and byte-plane layouts for every safetensors dtype.
 *
 * Browser-safe: no I/O, no `Deno.*`.
 * @module
 */

/** Every dtype that safetensors defines, in the spelling its header uses. */
export const DTYPES = [
  "BOOL",
  "U8",
  "I8",
  "F8_E5M2",
  "F8_E4M3",
  "I16",
  "U16",
  "F16",
  "BF16",
  "I32",
  "U32",
  "F32",
  "F64",
  "I64",
  "U64",
] as const;

/** A safetensors dtype name. */
export type Dtype = typeof DTYPES[number];

const WIDTHS: Record<Dtype, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** Reports whether `name` is a dtype safetensors defines. */
export function isDtype(name: string): name is Dtype {
  return Object.hasOwn(WIDTHS, name);
}

/** Bytes per element of `dtype`. */
export function dtypeWidth(dtype: Dtype): number {
  return WIDTHS[dtype];
}

/** How a tensor's elements pack smaller integers (docs/FORMAT.md, "Packed INT4"). */
export type Packing = "int4";

/**
 * How the bytes of one element are split into planes: the index's lossless `layout` object.
 *
 * `signMoved` applies to BF16 and F32 only: the top 16 bits `s|eeeeeeee|mmmmmmm` are stored as an
 * exponent byte and a `s|mmmmmmm` byte, so the low-entropy exponent gets a plane of its own.
 *
 * `packing: "int4"` marks elements that hold 4-bit integers two to a byte (GPTQ `qweight` and
 * `qzeros` in I32, or nibble pairs in U8): the chunk then has a single plane, the tile's bytes as
 * they are, so that a codec sees the nibbles in order rather than split across byte planes.
 */
export interface PlaneLayout {
  /** Bytes per element. */
  readonly width: number;
  /** Whether the sign bit moves from the exponent byte to the mantissa byte. */
  readonly signMoved: boolean;
  /** Present for packed layouts only. */
  readonly packing?: Packing;
}

/** The plane layout the codec uses for `dtype`, packed as `packing` says. */
export function planeLayout(dtype: Dtype, packing?: Packing): PlaneLayout {
  const layout = { width: WIDTHS[dtype], signMoved: dtype === "BF16" || dtype === "F32" };
  return packing ? { ...layout, packing } : layout;
}

/** Planes in a chunk of `layout`: one per byte of an element, or one for a packed layout. */
export function planeCount(layout: PlaneLayout): number {
  return layout.packing ? 1 : layout.width;
}

/** Whether a `dtype` tensor may use the packed INT4 layout: 8-bit and 32-bit integers. */
export function mayPackInt4(dtype: Dtype): boolean {
  return dtype === "U8" || dtype === "I8" || dtype === "I32" || dtype === "U32";
}
