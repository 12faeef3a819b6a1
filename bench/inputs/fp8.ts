/**
 * Float to FP8 conversion for the bench's quantised inputs: the OCP 8-bit formats E4M3 (bias 7, no
 * infinities, `S.1111.111` is NaN, largest finite 448) and E5M2 (bias 15, IEEE-like: infinities and
 * NaNs, largest finite 57344), rounding to nearest with ties to even and saturating: a finite value
 * beyond the largest finite one becomes the largest finite one, as FP8 checkpoints are made.
 * @module
 */

/** The two FP8 formats safetensors names `F8_E4M3` and `F8_E5M2`. */
export type Fp8Format = "E4M3" | "E5M2";

interface Spec {
  /** Mantissa bits. */
  readonly m: number;
  /** Exponent bias. */
  readonly bias: number;
  /** Largest finite magnitude. */
  readonly max: number;
  /** Bits of the largest finite magnitude. */
  readonly maxBits: number;
  /** Bits of a NaN (sign added). */
  readonly nan: number;
}

const SPECS: Record<Fp8Format, Spec> = {
  E4M3: { m: 3, bias: 7, max: 448, maxBits: 0x7e, nan: 0x7f },
  E5M2: { m: 2, bias: 15, max: 57344, maxBits: 0x7b, nan: 0x7f },
};

/** The largest finite magnitude of `format`: the value absmax scaling maps a tensor's maximum to. */
export function fp8Max(format: Fp8Format): number {
  return SPECS[format].max;
}

/** Rounds `q` (>= 0) to an integer, ties to even. */
function roundEven(q: number): number {
  const f = Math.floor(q), d = q - f;
  return d > 0.5 || (d === 0.5 && (f & 1) === 1) ? f + 1 : f;
}

/**
 * The FP8 bits of `x` in `format`, rounded to nearest even and saturated. Infinities saturate too;
 * NaN becomes the format's NaN with the sign of `x`.
 *
 * @example
 * ```ts
 * toFp8(1, "E4M3"); // 0x38
 * toFp8(1000, "E4M3"); // 0x7e (448, saturated)
 * ```
 */
export function toFp8(x: number, format: Fp8Format): number {
  const s = SPECS[format];
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  if (Number.isNaN(x)) return sign | s.nan;
  const a = Math.abs(x);
  if (a >= s.max) return sign | s.maxBits;
  const minNormal = 2 ** (1 - s.bias);
  if (a < minNormal) {
    // Subnormals are multiples of 2^(1 - bias - m); rounding up to 2^m of them gives the smallest
    // normal, whose bits are the same integer.
    return sign | roundEven(a / 2 ** (1 - s.bias - s.m));
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  // a / 2^(e - m) is exact in doubles and lies in [2^m, 2^(m+1)).
  let q = roundEven(a / 2 ** (e - s.m));
  if (q === 2 << s.m) {
    e++;
    q = 1 << s.m;
  }
  const bits = ((e + s.bias) << s.m) | (q - (1 << s.m));
  return sign | Math.min(bits, s.maxBits);
}

/** The value of FP8 `bits` in `format` (NaN for NaNs, ±Infinity for E5M2 infinities). */
export function fromFp8(bits: number, format: Fp8Format): number {
  const s = SPECS[format];
  const sign = bits & 0x80 ? -1 : 1, e = (bits & 0x7f) >> s.m, m = bits & ((1 << s.m) - 1);
  const eMax = (1 << (7 - s.m)) - 1;
  if (format === "E4M3" && (bits & 0x7f) === 0x7f) return NaN;
  if (format === "E5M2" && e === eMax) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** (1 - s.bias - s.m);
  return sign * (1 + m / (1 << s.m)) * 2 ** (e - s.bias);
}
