/**
 * The bench's quantised inputs, made from the shared FP32 files by code (never stored): FP8 E4M3
 * and E5M2, INT8, and INT4 packed GPTQ-style into I32 or two nibbles per U8. Each recipe keeps the
 * source's tensor order and names what it writes in the file's `__metadata__`.
 *
 * - **FP8** (`<model>.e4m3`, `<model>.e5m2`): every tensor scaled by its absolute maximum to the
 *   format's largest finite value (448 or 57344), computed in doubles, then rounded to nearest even
 *   and saturated ({@link toFp8}). The per-tensor scales are not stored, as in the measured
 *   files (one number per tensor; a checkpoint would keep them as F32 scalars).
 * - **INT8** (`<model>.int8`): per-row symmetric: each row of the tensor seen as the matrix
 *   `[product of leading dimensions, last dimension]` (the view the codec tiles; a vector is one
 *   row) divided by `absmax(row) / 127`, rounded to nearest even, clamped to [-127, 127]. Scales
 *   not stored, as for FP8.
 * - **GPTQ INT4** (`<model>.gptq4`): every tensor with 2 or more dimensions seen as a weight matrix
 *   `[out, in]` with both multiples of 8 (PyTorch's `[out, in, ...]` as `out = shape[0]`, `in` the
 *   product of the rest; else TensorFlow's `[..., in, out]` as `out` the last dimension) becomes `<p>.qweight` I32 `[in/8, out]` (nibble k of
 *   word `[i, o]` is input row `8i + k`, bits `4k..4k+3`), `<p>.qzeros` I32 `[groups, out/8]`
 *   (nibble k of word `[g, j]` is the zero point of output `8j + k`) and `<p>.scales` F16
 *   `[groups, out]`, with groups of 128 input rows (the last one shorter when `in` is not a multiple
 *   of 128), `<p>` the name without a trailing `.weight`. Asymmetric per group and output:
 *   `scale = f16((max - min) / 15)` (1 when 0), `zero = clamp(roundEven(-min / scale), 0, 15)`,
 *   `q = clamp(roundEven(w / scale) + zero, 0, 15)`. Other tensors stay as F16.
 * - **U8 INT4** (`<model>.int4u8`): every tensor with 2 or more dimensions whose weight matrix (as
 *   for GPTQ, multiples of 2) has an even `in` becomes
 *   `<p>.qweight` U8 `[out, in/2]` (byte j of a row holds inputs 2j in its low nibble and 2j + 1 in
 *   its high nibble) and `<p>.scales` F16 `[out, groups]`, symmetric per group of 128:
 *   `scale = f16(absmax / 7)` (1 when 0), `q = clamp(roundEven(w / scale), -8, 7) + 8`. Other
 *   tensors stay as F16.
 * @module
 */
import { readSafetensorsHeader } from "../../src/safetensors/parse.ts";
import { bufferReader } from "../../src/io/random_access.ts";
import type { Dtype } from "../../codec/dtype.ts";
import { floatValues } from "./float_tensor.ts";
import { type Fp8Format, fp8Max, toFp8 } from "./fp8.ts";
import { type OutTensor, safetensorsBytes } from "./safetensors_file.ts";

/** A derived input: its name (`<model>.<recipe>`) and its safetensors bytes. */
export interface DerivedInput {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** The recipes, by the suffix they give a model's name. */
export const RECIPES = ["e4m3", "e5m2", "int8", "gptq4", "int4u8"] as const;
/** One recipe. */
export type Recipe = typeof RECIPES[number];

/** A source tensor's values. */
interface Source {
  readonly name: string;
  readonly shape: number[];
  readonly values: Float64Array;
}

async function sourceTensors(file: Uint8Array): Promise<Source[]> {
  const h = await readSafetensorsHeader(bufferReader(file));
  return h.tensors.map((t) => {
    const values = floatValues(file.subarray(h.dataStart + t.begin, h.dataStart + t.end), t.dtype);
    if (!values) throw new Error(`${t.name}: ${t.dtype} is not a float dtype`);
    return { name: t.name, shape: t.shape, values };
  });
}

/** Rounds to an integer, ties to even. */
export function roundEven(q: number): number {
  const f = Math.floor(q), d = q - f;
  return d > 0.5 || (d === 0.5 && (f & 1) === 1) ? f + 1 : f;
}

function absmax(v: Float64Array, from = 0, to = v.length): number {
  let m = 0;
  for (let i = from; i < to; i++) {
    const a = Math.abs(v[i]);
    if (a > m && Number.isFinite(a)) m = a;
  }
  return m;
}

function fp8Tensor(t: Source, format: Fp8Format): OutTensor {
  const m = absmax(t.values), k = m > 0 ? fp8Max(format) / m : 1;
  const data = new Uint8Array(t.values.length);
  for (let i = 0; i < data.length; i++) data[i] = toFp8(t.values[i] * k, format);
  return { name: t.name, dtype: format === "E4M3" ? "F8_E4M3" : "F8_E5M2", shape: t.shape, data };
}

function int8Tensor(t: Source): OutTensor {
  // Rows of the matrix view the codec tiles: the last dimension is a row.
  const cols = t.shape.length ? t.shape[t.shape.length - 1] : 1;
  const rows = cols ? t.values.length / cols : 0;
  const data = new Uint8Array(t.values.length);
  for (let r = 0; r < rows; r++) {
    const m = absmax(t.values, r * cols, (r + 1) * cols), k = m > 0 ? 127 / m : 1;
    for (let i = r * cols; i < (r + 1) * cols; i++) {
      data[i] = Math.max(-127, Math.min(127, roundEven(t.values[i] * k))) & 0xff;
    }
  }
  return { name: t.name, dtype: "I8", shape: t.shape, data };
}

function f16Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2), view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat16(2 * i, values[i], true);
  return out;
}

function asF16(t: Source): OutTensor {
  return { name: t.name, dtype: "F16", shape: t.shape, data: f16Bytes(t.values) };
}

function prefixOf(name: string): string {
  return name.endsWith(".weight") ? name.slice(0, -".weight".length) : name;
}

const GROUP = 128;

/** A tensor seen as a weight matrix: `out × in`, element `(o, i)` at `o * outStride + i * inStride`. */
interface WeightMatrix {
  readonly out: number;
  readonly inn: number;
  readonly outStride: number;
  readonly inStride: number;
}

/**
 * The weight matrix of a tensor with 2 or more dimensions whose `out` and `in` are multiples of
 * `multiple`: PyTorch's `[out, in, ...]` first, else TensorFlow's `[..., in, out]`; null if neither.
 */
function matrixOf(t: Source, multiple: number): WeightMatrix | null {
  if (t.shape.length < 2 || t.values.length === 0) return null;
  const n = t.values.length, first = t.shape[0], last = t.shape[t.shape.length - 1];
  const fits = (out: number, inn: number) => out % multiple === 0 && inn % multiple === 0;
  if (fits(first, n / first)) {
    return { out: first, inn: n / first, outStride: n / first, inStride: 1 };
  }
  if (fits(last, n / last)) return { out: last, inn: n / last, outStride: 1, inStride: last };
  return null;
}

function gptqTensors(t: Source): OutTensor[] {
  const m = matrixOf(t, 8);
  if (!m) return [asF16(t)];
  const { out, inn } = m, at = (o: number, i: number) => t.values[o * m.outStride + i * m.inStride];
  const groups = Math.ceil(inn / GROUP), p = prefixOf(t.name);
  const qweight = new Uint32Array((inn / 8) * out);
  const qzeros = new Uint32Array(groups * (out / 8));
  const scales = new Float64Array(groups * out);
  for (let g = 0; g < groups; g++) {
    const i0 = g * GROUP, i1 = Math.min(inn, i0 + GROUP);
    for (let o = 0; o < out; o++) {
      let lo = Infinity, hi = -Infinity;
      for (let i = i0; i < i1; i++) {
        const w = at(o, i);
        if (w < lo) lo = w;
        if (w > hi) hi = w;
      }
      lo = Math.min(lo, 0), hi = Math.max(hi, 0);
      let scale = Math.f16round((hi - lo) / 15);
      if (!(scale > 0) || !Number.isFinite(scale)) scale = 1;
      const zero = Math.max(0, Math.min(15, roundEven(-lo / scale)));
      scales[g * out + o] = scale;
      qzeros[g * (out / 8) + (o >> 3)] |= zero << (4 * (o & 7));
      for (let i = i0; i < i1; i++) {
        const q = Math.max(0, Math.min(15, roundEven(at(o, i) / scale) + zero));
        qweight[(i >> 3) * out + o] |= q << (4 * (i & 7));
      }
    }
  }
  return [
    { name: `${p}.qweight`, dtype: "I32", shape: [inn / 8, out], data: u32Bytes(qweight) },
    { name: `${p}.qzeros`, dtype: "I32", shape: [groups, out / 8], data: u32Bytes(qzeros) },
    { name: `${p}.scales`, dtype: "F16", shape: [groups, out], data: f16Bytes(scales) },
  ];
}

function u32Bytes(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(words.length * 4), view = new DataView(out.buffer);
  for (let i = 0; i < words.length; i++) view.setUint32(4 * i, words[i], true);
  return out;
}

function nibbleU8Tensors(t: Source): OutTensor[] {
  const m = matrixOf(t, 2);
  if (!m) return [asF16(t)];
  const { out, inn } = m, at = (o: number, i: number) => t.values[o * m.outStride + i * m.inStride];
  const groups = Math.ceil(inn / GROUP), p = prefixOf(t.name);
  const packed = new Uint8Array(out * (inn / 2));
  const scales = new Float64Array(out * groups);
  for (let o = 0; o < out; o++) {
    for (let g = 0; g < groups; g++) {
      const i0 = g * GROUP, i1 = Math.min(inn, i0 + GROUP);
      let max = 0;
      for (let i = i0; i < i1; i++) max = Math.max(max, Math.abs(at(o, i)));
      let scale = Math.f16round(max / 7);
      if (!(scale > 0) || !Number.isFinite(scale)) scale = 1;
      scales[o * groups + g] = scale;
      for (let i = i0; i < i1; i++) {
        const q = Math.max(-8, Math.min(7, roundEven(at(o, i) / scale))) + 8;
        packed[(o * inn + i) >> 1] |= q << (4 * (i & 1));
      }
    }
  }
  return [
    { name: `${p}.qweight`, dtype: "U8", shape: [out, inn / 2], data: packed },
    { name: `${p}.scales`, dtype: "F16", shape: [out, groups], data: f16Bytes(scales) },
  ];
}

/** The `recipe` input made from `file`, an FP32 safetensors file of model `model`. */
export async function derivedInput(
  model: string,
  file: Uint8Array,
  recipe: Recipe,
): Promise<DerivedInput> {
  const sources = await sourceTensors(file);
  let tensors: OutTensor[];
  if (recipe === "e4m3" || recipe === "e5m2") {
    const format = recipe === "e4m3" ? "E4M3" : "E5M2";
    tensors = sources.map((t) => fp8Tensor(t, format));
  } else if (recipe === "int8") tensors = sources.map(int8Tensor);
  else if (recipe === "gptq4") tensors = sources.flatMap(gptqTensors);
  else tensors = sources.flatMap(nibbleU8Tensors);
  const metadata = { format: "pt", "tessera.bench.recipe": recipe, "tessera.bench.source": model };
  return { name: `${model}.${recipe}`, bytes: safetensorsBytes(tensors, metadata) };
}

/** Which dtypes a derived input of `recipe` holds its quantised tensors in. */
export function recipeDtypes(recipe: Recipe): Dtype[] {
  return {
    e4m3: ["F8_E4M3"],
    e5m2: ["F8_E5M2"],
    int8: ["I8"],
    gptq4: ["I32"],
    int4u8: ["U8"],
  }[recipe] as Dtype[];
}
