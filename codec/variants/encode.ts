/**
 * Encodes one tensor as one lossy variant: quantise or decompose its view, cut the result into
 * chunks of sections, entropy-code each section with the plane coders, and measure the error of
 * what a decoder will return. Browser-safe; zstd is injected as for lossless chunks.
 * @module
 */
import type { EncodeOptions } from "../chunk_encode.ts";
import { type Dtype, dtypeWidth } from "../dtype.ts";
import { chooseTiles, matrixShape, type Rect, tileRect } from "../tiles.ts";
import {
  chunkCount,
  chunkLayout,
  type LossyEncoding,
  lowRankPart,
  variantGeometry,
} from "./encoding.ts";
import { dequantiseRegion } from "./dequantise.ts";
import { measureError } from "./error.ts";
import { f32Bits, f32BitsToBf16, f32BitsToF16, fromFloat32, toFloat32 } from "./float.ts";
import { quantiseInt8 } from "./int8_encode.ts";
import { decomposeLowRank } from "./lowrank_encode.ts";
import { type EncodedVariantChunk, encodeSections } from "./sections_encode.ts";
import { sparsify } from "./sparse_encode.ts";
import type { VariantSpec } from "./spec.ts";
import { packBase3, quantiseTernary } from "./ternary_encode.ts";
import { variantTiles } from "./tiles.ts";
import { chooseView, type View } from "./view.ts";

/** The tensor a variant is made of. */
export interface VariantInput {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Its raw little-endian bytes. */
  readonly bytes: Uint8Array;
}

/** Options of {@link encodeVariant}. */
export interface EncodeVariantOptions extends EncodeOptions {
  /** Payload bytes per chunk, about; 256 KiB by default. */
  readonly chunkBytes?: number;
  /** The view to use instead of {@link chooseView}'s. */
  readonly view?: View;
}

/** A variant ready to write: its encoding (chunk records still empty) and its chunks. */
export interface EncodedVariant {
  /**
   * The encoding; the writer fills `chunks` with records in the order of {@link chunks}, and
   * `sha256` with the SHA-256 of {@link dequantised}.
   */
  readonly encoding: LossyEncoding;
  /** The chunks, in the encoding's chunk order. */
  readonly chunks: EncodedVariantChunk[];
  /** The whole dequantised tensor, in its own dtype: what a reader of the variant gets. */
  readonly dequantised: Uint8Array;
}

/** Encodes `input` as variant `spec` (any kind but `auto`), named `name`. */
export function encodeVariant(
  input: VariantInput,
  spec: Exclude<VariantSpec, { kind: "auto" }>,
  name: string,
  options: EncodeVariantOptions,
): EncodedVariant {
  const view = options.view ?? chooseView(input.shape);
  const [rows, cols] = view;
  if (rows * cols === 0) throw new RangeError("a tensor with no elements has no lossy variant");
  const chunkBytes = options.chunkBytes ?? 262144;
  const values = toFloat32(input.bytes, input.dtype);
  const width = dtypeWidth(input.dtype);
  const base = {
    name,
    reason: "",
    view: [rows, cols] as [number, number],
    chunks: [],
    sha256: "",
  };
  const error = { relRmse: null, maxAbs: null };
  let encoding: LossyEncoding;
  let sectionsOf: (i: number, t: Rect) => Uint8Array[];
  switch (spec.kind) {
    case "int8": {
      const q = quantiseInt8(values, rows, cols, spec);
      const tile = variantTiles(rows, cols, 1, spec.group >= cols ? 0 : spec.group, chunkBytes);
      encoding = {
        ...base,
        kind: "int8",
        params: { scheme: spec.scheme, group: q.group, scale: q.scale },
        tile,
        error,
      };
      const groups = Math.ceil(cols / q.group), sw = dtypeWidth(q.scale);
      sectionsOf = (_i, t) => {
        const g0 = Math.floor(t.c0 / q.group), g1 = Math.ceil(t.c1 / q.group);
        const groupRect = { r0: t.r0, r1: t.r1, c0: g0, c1: g1 };
        const parts = [sliceRect(q.scales, groups, sw, groupRect)];
        if (q.zeros) parts.push(sliceRect(q.zeros, groups, 1, groupRect));
        parts.push(sliceRect(q.codes, cols, 1, t));
        return parts;
      };
      break;
    }
    case "ternary": {
      const q = quantiseTernary(values, rows, cols, spec);
      const tile = variantTiles(rows, cols, 1, spec.group >= cols ? 0 : spec.group, chunkBytes);
      encoding = {
        ...base,
        kind: "ternary",
        params: { bases: spec.bases, group: q.group, scale: q.scale, packing: spec.packing },
        tile,
        error,
      };
      const groups = Math.ceil(cols / q.group), sw = dtypeWidth(q.scale) * spec.bases;
      sectionsOf = (_i, t) => {
        const g0 = Math.floor(t.c0 / q.group), g1 = Math.ceil(t.c1 / q.group);
        const codes = sliceRect(q.codes, cols, 1, t);
        return [
          sliceRect(q.scales, groups, sw, { r0: t.r0, r1: t.r1, c0: g0, c1: g1 }),
          spec.packing === "2bit" ? codes : packBase3(codes, spec.bases),
        ];
      };
      break;
    }
    case "cast": {
      const cast = castBytes(values, spec.dtype);
      const g = chooseTiles([rows, cols], 2, chunkBytes);
      const tile: [number, number] = [g.tileRows, g.tileCols];
      encoding = { ...base, kind: "cast", params: { dtype: spec.dtype }, tile, error };
      sectionsOf = (_i, t) => [sliceRect(cast, cols, 2, t)];
      break;
    }
    case "sparse": {
      const s = sparsify(input.bytes, values, rows, cols, input.dtype, spec, chunkBytes, options);
      s.chunks.forEach((c, i) => rawParts.set(c, s.parts[i]));
      const params = { threshold: s.threshold, layout: s.layout };
      return finish(input, { ...base, kind: "sparse", params, tile: s.tile, error }, s.chunks);
    }
    case "lowrank": {
      const f = decomposeLowRank(values, rows, cols, width, spec);
      const fw = 2, r = f.rank;
      const band = Math.max(1, Math.floor(chunkBytes / (r * fw)));
      encoding = {
        ...base,
        kind: "lowrank",
        params: { rank: r, factor: spec.factor },
        tile: [band, band],
        error,
      };
      const lr = encoding;
      const sBytes = new Uint8Array(Float32Array.from(f.s).buffer);
      sectionsOf = (i) => {
        const p = lowRankPart(lr, i);
        if (p.part === "S") return [sBytes];
        const src = p.part === "U" ? f.u : f.v;
        return [factorBytes(src.subarray(p.begin * r, p.end * r), spec.factor)];
      };
      break;
    }
  }
  const g = variantGeometry(encoding);
  const chunks: EncodedVariantChunk[] = [];
  for (let i = 0; i < chunkCount(encoding); i++) {
    const layout = chunkLayout(encoding, input.dtype, i);
    const parts = sectionsOf(i, tileRect(g, i));
    chunks.push(
      encodeSections(parts.map((raw, k) => ({ raw, layout: layout.layouts[k] })), options),
    );
    rawParts.set(chunks[i], parts);
  }
  return finish(input, encoding, chunks);
}

// The raw sections of each encoded chunk, kept for measuring the error without decoding again.
const rawParts = new WeakMap<EncodedVariantChunk, Uint8Array[]>();

function finish(
  input: VariantInput,
  encoding: LossyEncoding,
  chunks: EncodedVariantChunk[],
): EncodedVariant {
  const [rows, cols] = matrixShape(input.shape);
  const dequantised = new Uint8Array(input.bytes.length);
  dequantiseRegion(
    encoding,
    input.dtype,
    input.shape,
    { r0: 0, r1: rows, c0: 0, c1: cols },
    (i) => rawParts.get(chunks[i])!,
    dequantised,
  );
  const error = measureError(input.bytes, dequantised, input.dtype);
  return { encoding: { ...encoding, error }, chunks, dequantised };
}

/** The bytes of `rect` of a row-major matrix of `cols` elements of `w` bytes. */
export function sliceRect(src: Uint8Array, cols: number, w: number, rect: Rect): Uint8Array {
  const span = (rect.c1 - rect.c0) * w;
  if (rect.c0 === 0 && span === cols * w) return src.subarray(rect.r0 * span, rect.r1 * span);
  const out = new Uint8Array((rect.r1 - rect.r0) * span);
  for (let r = rect.r0; r < rect.r1; r++) {
    const from = (r * cols + rect.c0) * w;
    out.set(src.subarray(from, from + span), (r - rect.r0) * span);
  }
  return out;
}

function castBytes(values: Float32Array, dtype: "F16" | "BF16"): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  fromFloat32(values, dtype, out);
  return out;
}

function factorBytes(src: Float64Array, dtype: "F16" | "BF16"): Uint8Array {
  const out = new Uint8Array(src.length * 2);
  for (let i = 0; i < src.length; i++) {
    const bits = f32Bits(src[i]);
    const h = dtype === "F16" ? f32BitsToF16(bits) : f32BitsToBf16(bits);
    out[2 * i] = h;
    out[2 * i + 1] = h >> 8;
  }
  return out;
}
