/**
 * Float element conversions for lossy variants (docs/FORMAT.md, "Variants: values"): every variant
 * works on binary32 values, read from any float dtype and written back to it by
 * round-to-nearest-even. Browser-safe.
 * @module
 */
import type { Dtype } from "../dtype.ts";

/** The dtypes lossy variants apply to. */
export const FLOAT_DTYPES: readonly Dtype[] = ["F8_E4M3", "F8_E5M2", "F16", "BF16", "F32", "F64"];

/** Whether lossy variants apply to `dtype` (a float dtype). */
export function isFloatDtype(dtype: string): boolean {
  return (FLOAT_DTYPES as readonly string[]).includes(dtype);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary32 bit pattern of `v` rounded to binary32. */
export function f32Bits(v: number): number {
  f32[0] = v;
  return u32[0];
}

/** The binary32 value of bit pattern `bits`. */
export function bitsF32(bits: number): number {
  u32[0] = bits;
  return f32[0];
}

/** binary32 bits to binary16 bits, round-to-nearest-even; NaN becomes sign | 0x7e00. */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff, man = x & 0x7fffff;
  if (exp === 0xff) return sign | (man ? 0x7e00 : 0x7c00);
  // Unbiased exponent e = exp - 127; binary16 normals have e in [-14, 15].
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Keep 10 of 23 mantissa bits, round to nearest even on the 13 dropped; a carry may
    // propagate into the exponent, and into infinity, which is the right answer.
    const h = ((e + 15) << 10) | (man >>> 13);
    const rest = man & 0x1fff;
    const up = rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1) ? 1 : 0;
    return sign | (h + up);
  }
  if (e < -25) return sign; // below half the smallest subnormal (2^-25): rounds to zero
  // Subnormal: value = m × 2^-24 with m = full significand × 2^(e + 24 - 23).
  const full = man | 0x800000, shift = -e - 1; // 14..24: bits dropped from the 24-bit significand
  const m = full >>> shift;
  const rest = full & ((1 << shift) - 1), half = 1 << (shift - 1);
  const up = rest > half || (rest === half && (m & 1) === 1) ? 1 : 0;
  return sign | (m + up);
}

let f16Table: Float32Array | null = null;

/** binary16 bits to the (exact) binary32 value, through a 65,536-entry table built once. */
export function f16Table32(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536), bits = new Uint32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp === 0) t[h] = sign * man * 2 ** -24;
    // NaNs keep their sign and payload (the payload's top bits), as a hardware widening does.
    else if (exp === 31) bits[h] = (((h & 0x8000) << 16) | 0x7f800000 | (man << 13)) >>> 0;
    else t[h] = sign * (1024 + man) * 2 ** (exp - 25);
  }
  f16Table = t;
  return t;
}

/** binary32 bits to bfloat16 bits, round-to-nearest-even; NaN becomes sign | 0x7fc0. */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) & 0x8000) | 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

// OCP 8-bit floats. E4M3 ("FN"): bias 7, no infinities, S.1111.111 is NaN, largest 448; a
// conversion saturates to ±448. E5M2: bias 15, infinities and NaNs as in IEEE 754.
interface F8Format {
  readonly manBits: number;
  readonly bias: number;
  readonly ieee: boolean;
}
const E4M3: F8Format = { manBits: 3, bias: 7, ieee: false };
const E5M2: F8Format = { manBits: 2, bias: 15, ieee: true };

function f8ToF32(b: number, f: F8Format): number {
  const sign = b & 0x80 ? -1 : 1, expBits = 7 - f.manBits;
  const exp = (b >> f.manBits) & ((1 << expBits) - 1), man = b & ((1 << f.manBits) - 1);
  const maxExp = (1 << expBits) - 1;
  if (f.ieee && exp === maxExp) return man ? NaN : sign * Infinity;
  if (!f.ieee && exp === maxExp && man === (1 << f.manBits) - 1) return NaN;
  if (exp === 0) return sign * man * 2 ** (1 - f.bias - f.manBits);
  return sign * ((1 << f.manBits) + man) * 2 ** (exp - f.bias - f.manBits);
}

function f32ToF8(v: number, f: F8Format): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x80 : 0;
  if (Number.isNaN(v)) return f.ieee ? sign | 0x7e : sign | 0x7f;
  const a = Math.abs(v);
  const expBits = 7 - f.manBits, maxExp = (1 << expBits) - 1;
  const largest = f.ieee
    ? ((2 << f.manBits) - 1) * 2 ** (maxExp - 1 - f.bias - f.manBits)
    : ((2 << f.manBits) - 2) * 2 ** (maxExp - f.bias - f.manBits);
  if (a === Infinity) return f.ieee ? sign | (maxExp << f.manBits) : sign | (0x7f - 1);
  // Search the 127 magnitudes: few enough that a scan is simple and exact (only encoders call it).
  let best = 0, bestErr = Infinity;
  for (let b = 0; b < 0x80; b++) {
    const m = f8ToF32(b, f);
    if (!Number.isFinite(m) || m > largest) continue;
    const err = Math.abs(m - a);
    if (err < bestErr || (err === bestErr && (b & 1) === 0)) best = b, bestErr = err;
  }
  if (a > largest) {
    // Beyond the largest finite: E5M2 rounds to infinity past the halfway point, E4M3 saturates.
    const ulp = 2 ** (maxExp - 1 - f.bias - f.manBits);
    if (f.ieee && a >= largest + ulp / 2) return sign | (maxExp << f.manBits);
  }
  return sign | best;
}

/**
 * Reads `n` elements of `dtype` from little-endian `bytes` as binary32 into `out` (exact for
 * F8, F16, BF16 and F32; F64 rounds to nearest even).
 */
export function toFloat32(bytes: Uint8Array, dtype: Dtype, out?: Float32Array): Float32Array {
  const width = dtype === "F64" ? 8 : dtype === "F32" ? 4 : dtype.startsWith("F8") ? 1 : 2;
  const n = bytes.length / width;
  const o = out ?? new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32":
      if ((bytes.byteOffset & 3) === 0) o.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      else for (let i = 0; i < n; i++) o[i] = view.getFloat32(4 * i, true);
      break;
    case "F64":
      for (let i = 0; i < n; i++) o[i] = view.getFloat64(8 * i, true);
      break;
    case "BF16": {
      const ou = new Uint32Array(o.buffer, o.byteOffset, n);
      for (let i = 0; i < n; i++) ou[i] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
      break;
    }
    case "F16": {
      const t = f16Table32();
      for (let i = 0; i < n; i++) o[i] = t[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
      break;
    }
    case "F8_E4M3":
    case "F8_E5M2": {
      const f = dtype === "F8_E4M3" ? E4M3 : E5M2;
      const t = new Float32Array(256);
      for (let b = 0; b < 256; b++) t[b] = f8ToF32(b, f);
      for (let i = 0; i < n; i++) o[i] = t[bytes[i]];
      break;
    }
    default:
      throw new RangeError(`lossy variants apply to float dtypes only: received ${dtype}`);
  }
  return o;
}

/**
 * Writes binary32 `values` as `dtype` into `out` (little-endian), round-to-nearest-even for the
 * narrower types (E4M3 saturates to ±448; the others overflow to infinity), exact for F64.
 */
export function fromFloat32(values: Float32Array, dtype: Dtype, out: Uint8Array): void {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  switch (dtype) {
    case "F32":
      if ((out.byteOffset & 3) === 0) new Float32Array(out.buffer, out.byteOffset, n).set(values);
      else out.set(new Uint8Array(values.buffer, values.byteOffset, 4 * n));
      break;
    case "F64": {
      const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
      for (let i = 0; i < n; i++) view.setFloat64(8 * i, values[i], true);
      break;
    }
    case "BF16":
    case "F16": {
      const convert = dtype === "BF16" ? f32BitsToBf16 : f32BitsToF16;
      // Word stores where aligned: a byte pair per element measured 5x slower.
      if ((out.byteOffset & 1) === 0) {
        const o16 = new Uint16Array(out.buffer, out.byteOffset, n);
        for (let i = 0; i < n; i++) o16[i] = convert(bits[i]);
      } else {
        for (let i = 0; i < n; i++) {
          const h = convert(bits[i]);
          out[2 * i] = h;
          out[2 * i + 1] = h >>> 8;
        }
      }
      break;
    }
    case "F8_E4M3":
    case "F8_E5M2": {
      const f = dtype === "F8_E4M3" ? E4M3 : E5M2;
      for (let i = 0; i < n; i++) out[i] = f32ToF8(values[i], f);
      break;
    }
    default:
      throw new RangeError(`lossy variants apply to float dtypes only: received ${dtype}`);
  }
}
