/**
 * Tensor bytes as numbers, for the charts: the element values of any safetensors dtype, the
 * histogram of a float dtype's exponent field, and a value histogram. Browser-safe; the float
 * conversions are the variants codec's (`codec/variants/float.ts`), exact for every float dtype
 * but F64, which is read as it is.
 * @module
 */
import type { Dtype } from "../../../codec/dtype.ts";
import { toFloat32 } from "../../../codec/variants/float.ts";

/**
 * The elements of little-endian `bytes` of `dtype` as numbers (64-bit integers beyond 2^53 lose
 * precision; BOOL is 0 or 1).
 *
 * @example
 * ```ts
 * elementValues(new Uint8Array([0x80, 0x3f]), "BF16")[0]; // 1
 * ```
 */
export function elementValues(bytes: Uint8Array, dtype: Dtype): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F8_E4M3":
    case "F8_E5M2":
    case "F16":
    case "BF16":
    case "F32":
      return Float64Array.from(toFloat32(bytes, dtype));
    case "F64":
      return Float64Array.from(
        { length: bytes.length / 8 },
        (_, i) => view.getFloat64(8 * i, true),
      );
    case "BOOL":
    case "U8":
      return Float64Array.from(bytes);
    case "I8":
      return Float64Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    case "I16":
      return Float64Array.from({ length: bytes.length / 2 }, (_, i) => view.getInt16(2 * i, true));
    case "U16":
      return Float64Array.from({ length: bytes.length / 2 }, (_, i) => view.getUint16(2 * i, true));
    case "I32":
      return Float64Array.from({ length: bytes.length / 4 }, (_, i) => view.getInt32(4 * i, true));
    case "U32":
      return Float64Array.from({ length: bytes.length / 4 }, (_, i) => view.getUint32(4 * i, true));
    case "I64":
      return Float64Array.from(
        { length: bytes.length / 8 },
        (_, i) => Number(view.getBigInt64(8 * i, true)),
      );
    case "U64":
      return Float64Array.from(
        { length: bytes.length / 8 },
        (_, i) => Number(view.getBigUint64(8 * i, true)),
      );
  }
}

/** Where a float dtype keeps its exponent: field width in bits, bias, and the element's width. */
export interface ExponentField {
  /** Bits of the exponent field. */
  readonly bits: number;
  /** The bias: the field value of 2^0. */
  readonly bias: number;
  /** Mantissa bits below the field. */
  readonly mantissa: number;
  /** Bytes per element. */
  readonly width: number;
}

/** The exponent field of a float dtype, or null for an integer dtype. */
export function exponentField(dtype: Dtype): ExponentField | null {
  switch (dtype) {
    case "BF16":
      return { bits: 8, bias: 127, mantissa: 7, width: 2 };
    case "F16":
      return { bits: 5, bias: 15, mantissa: 10, width: 2 };
    case "F32":
      return { bits: 8, bias: 127, mantissa: 23, width: 4 };
    case "F64":
      return { bits: 11, bias: 1023, mantissa: 52, width: 8 };
    case "F8_E4M3":
      return { bits: 4, bias: 7, mantissa: 3, width: 1 };
    case "F8_E5M2":
      return { bits: 5, bias: 15, mantissa: 2, width: 1 };
    default:
      return null;
  }
}

/**
 * How many elements of `bytes` have each value of the exponent field (index = the biased field:
 * 0 holds zeros and subnormals, the top value infinities and NaNs where the dtype has them).
 *
 * @example
 * ```ts
 * const f = exponentField("BF16")!;
 * exponentCounts(new Uint8Array([0x80, 0x3f]), f)[127]; // 1 (the element 1.0)
 * ```
 */
export function exponentCounts(bytes: Uint8Array, field: ExponentField): Uint32Array {
  const counts = new Uint32Array(1 << field.bits);
  const { width } = field;
  // The field sits below the sign bit, in the top two bytes of the element (one for F8).
  const shift = width === 1 ? field.mantissa : field.mantissa - 8 * (width - 2);
  const mask = (1 << field.bits) - 1;
  const n = Math.floor(bytes.length / width);
  if (width === 1) {
    for (let i = 0; i < n; i++) counts[(bytes[i] >> shift) & mask]++;
  } else {
    for (let i = 0, at = width - 2; i < n; i++, at += width) {
      counts[((bytes[at] | (bytes[at + 1] << 8)) >> shift) & mask]++;
    }
  }
  return counts;
}

/** A histogram of values: equal bins over [min, max] of the finite values, and what was left out. */
export interface ValueHistogram {
  /** Lower edge of each bin, then the upper edge of the last. */
  readonly edges: Float64Array;
  /** Elements per bin. */
  readonly counts: Float64Array;
  /** Smallest and largest finite value. */
  readonly min: number;
  /** Largest finite value. */
  readonly max: number;
  /** Elements that are NaN or infinite (not binned). */
  readonly nonFinite: number;
}

/**
 * Bins the finite `values` into `bins` equal bins between their min and max.
 *
 * @example
 * ```ts
 * valueHistogram(new Float64Array([0, 1, 1, 2]), 2).counts; // [1, 3]
 * ```
 */
export function valueHistogram(values: ArrayLike<number>, bins = 64): ValueHistogram {
  let min = Infinity, max = -Infinity, nonFinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) nonFinite++;
    else {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (min > max) min = max = 0;
  const span = max - min || 1;
  const counts = new Float64Array(bins);
  const edges = Float64Array.from({ length: bins + 1 }, (_, i) => min + (span * i) / bins);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor(((v - min) / span) * bins))]++;
  }
  return { edges, counts, min, max, nonFinite };
}
