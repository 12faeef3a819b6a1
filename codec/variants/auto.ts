/**
 * Automatic selection (`auto:rmse=B`, `auto:kl=B`): per tensor, the smallest representation whose
 * error meets the budget, with the reason recorded. Small tensors and norms stay exact. Browser-
 * safe.
 *
 * - rmse: candidates are tried from the smallest expected size up; a candidate is encoded only if
 *   its expected size could beat the best that already meets the budget, so a tensor that needs
 *   int8 costs a few failed ternary attempts and no more. Low rank is a candidate for matrices
 *   whose smaller side is at least 32 (below that its factors cost as much as the matrix), with
 *   the energy the budget implies (relative RMSE² = 1 − energy); sparse for tensors with at
 *   least half their elements zero.
 * - kl: a model-level budget needs a judge (the model's KL against the original when one tensor
 *   is replaced). {@link planByKl} chooses one candidate per tensor minimising the total size
 *   under the summed KL sensitivities, by a Lagrangian sweep; the bench supplies the judge.
 * @module
 */
import {
  type EncodedVariant,
  encodeVariant,
  type EncodeVariantOptions,
  type VariantInput,
} from "./encode.ts";
import { isFloatDtype, toFloat32 } from "./float.ts";
import { parseSpec, specName, type VariantSpec } from "./spec.ts";
import { chooseView } from "./view.ts";

/** Below this many elements a tensor stays exact: its bytes are noise next to its header. */
export const AUTO_MIN_ELEMENTS = 1024;

/** Names of tensors that stay exact whatever their size: normalisation weights and biases. */
export const AUTO_KEEP = /norm|bias|(^|[._/])(ln|bn)(_?\d+)?([._/]|$)/i;

/** Candidates in order of expected bits per element (measured on Gaussian-like weights). */
export const AUTO_LADDER: readonly { spec: string; bits: number }[] = [
  { spec: "ternary:1", bits: 1.6 },
  { spec: "ternary:2", bits: 3.1 },
  { spec: "ternary:3", bits: 4.5 },
  { spec: "ternary:4", bits: 6.1 },
  { spec: "int8", bits: 7.3 },
  { spec: "int8:g64", bits: 7.6 },
  { spec: "int8:g16", bits: 8.5 },
  { spec: "bf16", bits: 10.6 },
  { spec: "fp16", bits: 13.5 },
];

/** Why a tensor is kept exact, or null if auto may make it lossy. */
export function keepExactReason(name: string, input: VariantInput): string | null {
  if (!isFloatDtype(input.dtype)) return `dtype ${input.dtype} is not a float dtype`;
  const elements = input.shape.reduce((a, b) => a * b, 1);
  if (elements < AUTO_MIN_ELEMENTS) return `small: ${elements} elements < ${AUTO_MIN_ELEMENTS}`;
  if (input.shape.length < 2) return "a vector (norm or bias weights)";
  if (AUTO_KEEP.test(name)) return "a normalisation or bias tensor";
  const v = toFloat32(input.bytes, input.dtype);
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) return "holds non-finite values";
  }
  return null;
}

/** The outcome for one tensor: an encoded variant, or null to keep it exact, and why. */
export interface AutoChoice {
  readonly encoded: EncodedVariant | null;
  /** The spec chosen (null: exact). */
  readonly spec: string | null;
  readonly reason: string;
}

function storedBytes(v: EncodedVariant): number {
  return v.chunks.reduce((s, c) => s + c.stored.length, 0);
}

/** The candidates for a tensor of `input` under an rmse `budget`, in ladder order. */
export function autoCandidates(
  input: VariantInput,
  budget: number,
): { spec: string; bits: number }[] {
  const out = [...AUTO_LADDER];
  const [rows, cols] = chooseView(input.shape);
  if (Math.min(rows, cols) >= 32 && budget < 1) {
    // Factors cost (rows + cols)·r·16 bits; expected bits per element at a quarter rank.
    const r = Math.min(rows, cols) / 4;
    out.push({
      spec: `svd:energy=${Number((1 - budget * budget).toPrecision(6))}`,
      bits: ((rows + cols) * r * 16) / (rows * cols),
    });
  }
  const v = toFloat32(input.bytes, input.dtype);
  let zeros = 0;
  for (let i = 0; i < v.length; i++) if (v[i] === 0) zeros++;
  if (zeros >= v.length / 2) {
    out.push({ spec: "sparse:keep=" + Math.max(0.01, 1 - zeros / v.length).toFixed(2), bits: 8 });
  }
  return out.sort((a, b) => a.bits - b.bits);
}

/**
 * The smallest candidate whose relative RMSE is at most `budget`, named `name` in the index; null
 * (exact) if none is, or if the tensor stays exact.
 */
export function chooseByRmse(
  tensorName: string,
  input: VariantInput,
  budget: number,
  name: string,
  options: EncodeVariantOptions,
): AutoChoice {
  const keep = keepExactReason(tensorName, input);
  if (keep) return { encoded: null, spec: null, reason: keep };
  const elements = input.shape.reduce((a, b) => a * b, 1);
  const exactBits = (input.bytes.length * 8) / elements;
  let best: EncodedVariant | null = null, bestSpec = "", bestBytes = Infinity;
  const tried: string[] = [];
  for (const c of autoCandidates(input, budget)) {
    if (c.bits >= exactBits) continue;
    if ((c.bits * elements) / 8 >= bestBytes) continue;
    const spec = parseSpec(c.spec) as Exclude<VariantSpec, { kind: "auto" }>;
    const v = encodeVariant(input, spec, name, options);
    const rel = v.encoding.error.relRmse;
    const bytes = storedBytes(v);
    tried.push(`${c.spec} ${rel === null ? "inf" : rel.toPrecision(3)}`);
    if (rel !== null && rel <= budget && bytes < bestBytes && bytes < input.bytes.length) {
      best = v, bestSpec = specName(spec), bestBytes = bytes;
    }
  }
  if (!best) {
    return {
      encoded: null,
      spec: null,
      reason: `no candidate meets rmse ≤ ${budget} (${tried.join(", ")})`,
    };
  }
  const reason = `smallest meeting rmse ≤ ${budget}: ${bestSpec} (${
    (best.encoding.error.relRmse ?? 0).toPrecision(3)
  }, ${((bestBytes * 8) / elements).toFixed(2)} bits/element); tried ${tried.join(", ")}`;
  return { encoded: { ...best, encoding: { ...best.encoding, reason } }, spec: bestSpec, reason };
}

/** One tensor's options for {@link planByKl}: each candidate's size and KL sensitivity. */
export interface KlOptions {
  readonly tensor: string;
  /** Candidates; include the exact one (KL 0, its lossless size). */
  readonly options: readonly { spec: string | null; bytes: number; kl: number }[];
}

/**
 * One candidate per tensor minimising the total bytes subject to Σ kl ≤ `budget`, assuming the
 * sensitivities add up: for a multiplier λ each tensor takes the candidate minimising
 * bytes + λ·kl, and λ is bisected (on a log scale) to the smallest total size within budget.
 */
export function planByKl(
  tensors: readonly KlOptions[],
  budget: number,
): Map<string, string | null> {
  const pick = (lambda: number) => {
    let bytes = 0, kl = 0;
    const choice = new Map<string, string | null>();
    for (const t of tensors) {
      let best = t.options[0];
      for (const o of t.options) {
        if (o.bytes + lambda * o.kl < best.bytes + lambda * best.kl) best = o;
      }
      choice.set(t.tensor, best.spec);
      bytes += best.bytes;
      kl += best.kl;
    }
    return { choice, bytes, kl };
  };
  let lo = -12, hi = 16; // log10 λ
  let bestPlan = pick(10 ** hi);
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2, p = pick(10 ** mid);
    if (p.kl <= budget) {
      hi = mid;
      if (p.bytes <= bestPlan.bytes) bestPlan = p;
    } else lo = mid;
  }
  return bestPlan.choice;
}
