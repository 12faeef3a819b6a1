/**
 * Picks the adaptive coding of a plane (encoder side): which model, context and variant suit the
 * plane's role, and which of the candidates codes smallest. Browser-safe.
 * @module
 */
import type { Dtype } from "../dtype.ts";
import {
  CONTEXT_COLUMN,
  CONTEXT_NONE,
  CONTEXT_PREVIOUS,
  LOW_ADAPTIVE,
  LOW_UNIFORM,
  MAX_COLUMNS,
  MODEL_BYTE,
  MODEL_MANTISSA,
  MODEL_NIBBLES,
  MODEL_RANK,
  TRANSFORM_E4M3,
  TRANSFORM_E5M2,
  TRANSFORM_IDENTITY,
  TRANSFORM_ZIGZAG,
} from "./constants.ts";
import type { AdaptiveHeader } from "./header.ts";
import { adaptiveEncode, type AdaptiveScratch } from "./encode.ts";

/** What a plane is, for choosing its model. */
export type PlaneRole =
  /** A whole element of a 1-byte dtype, or another byte plane. */
  | "byte"
  /** The exponent plane of a sign-moved layout. */
  | "exponent"
  /** The sign and high mantissa plane of a sign-moved layout (its contexts: the plane above). */
  | "mantissa"
  /** The high byte of F16: sign, 5 exponent bits, 2 mantissa bits. */
  | "f16high"
  /** The single plane of a packed INT4 layout. */
  | "nibbles";

/** Where a plane lies, for its contexts. */
export interface PlaneShape {
  /** The plane's role. */
  readonly role: PlaneRole;
  /** The tensor's dtype, for byte transforms. */
  readonly dtype?: Dtype;
  /** The tile's width in elements; columns need two rows or more to help. */
  readonly cols: number;
  /** Bytes per element (packed layouts: a column's bytes). */
  readonly elementBytes: number;
}

/** Segments for a plane of `n` symbols: more lanes decode faster but learn each table anew. */
export function lanesFor(n: number): number {
  return n >= 65536 ? 4 : n >= 16384 ? 2 : 1;
}

function transformOf(role: PlaneRole, dtype?: Dtype): number {
  if (role === "f16high" || dtype === "F8_E5M2") return TRANSFORM_E5M2;
  if (dtype === "F8_E4M3") return TRANSFORM_E4M3;
  if (dtype === "I8") return TRANSFORM_ZIGZAG;
  return TRANSFORM_IDENTITY;
}

/** The up-to-15 most frequent byte values of `plane`, most frequent first (ties: smaller first). */
export function topValues(plane: Uint8Array): Uint8Array {
  const counts = new Uint32Array(256);
  for (let i = 0; i < plane.length; i++) counts[plane[i]]++;
  const present: number[] = [];
  for (let v = 0; v < 256; v++) if (counts[v]) present.push(v);
  present.sort((a, b) => counts[b] - counts[a] || a - b);
  return Uint8Array.from(present.slice(0, 15));
}

/** The headers worth trying for a plane of `n` bytes shaped as `shape`. */
export function candidates(n: number, shape: PlaneShape, above?: Uint8Array): AdaptiveHeader[] {
  const lanes = lanesFor(n), cols = Math.max(1, shape.cols), rows = n / shape.elementBytes / cols;
  const contexts = [CONTEXT_NONE, CONTEXT_PREVIOUS];
  if (rows >= 2 && cols <= MAX_COLUMNS && cols > 1) contexts.push(CONTEXT_COLUMN);
  const base = { lanes, cols, elementBytes: 1, values: new Uint8Array(0), variant: 0 };
  switch (shape.role) {
    case "mantissa": {
      const values = topValues(above!);
      if (values.length === 0) return [];
      return [LOW_UNIFORM, LOW_ADAPTIVE].map((variant) => ({
        ...base,
        model: MODEL_MANTISSA,
        context: CONTEXT_NONE,
        variant,
        values,
      }));
    }
    case "nibbles":
      return contexts.map((context) => ({
        ...base,
        model: MODEL_NIBBLES,
        context,
        elementBytes: shape.elementBytes,
      }));
    default:
      return contexts.map((context) => ({
        ...base,
        model: MODEL_BYTE,
        context,
        variant: transformOf(shape.role, shape.dtype),
      }));
  }
}

/** The rank model's candidates for an exponent plane. */
function rankCandidates(plane: Uint8Array, shape: PlaneShape): AdaptiveHeader[] {
  const values = topValues(plane);
  if (values.length === 0) return [];
  return candidates(plane.length, { ...shape, role: "byte" }).map((h) => ({
    ...h,
    model: MODEL_RANK,
    variant: 0,
    values,
  }));
}

/** The smallest adaptive payload for `plane`, or null when it has no candidate. */
export function adaptiveBest(
  plane: Uint8Array,
  shape: PlaneShape,
  above: Uint8Array | undefined,
  scratch: AdaptiveScratch,
): Uint8Array | null {
  const tries = shape.role === "exponent"
    ? rankCandidates(plane, shape)
    : candidates(plane.length, shape, above);
  let best: Uint8Array | null = null;
  for (const h of tries) {
    const coded = adaptiveEncode(plane, h, above, scratch);
    if (!best || coded.length < best.length) best = coded;
  }
  return best;
}
