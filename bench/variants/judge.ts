/**
 * The model judge of `auto:kl`: how much the next-token distributions of stories260k move when
 * one tensor takes a candidate representation, on a calibration set sampled with its own seed
 * (apart from the evaluation set), and the plan {@link planByKl} makes of those sensitivities.
 * @module
 */
import { AUTO_LADDER, keepExactReason, planByKl } from "../../codec/variants/auto.ts";
import { encodeVariant } from "../../codec/variants/encode.ts";
import { toFloat32 } from "../../codec/variants/float.ts";
import { parseSpec } from "../../codec/variants/spec.ts";
import type { Dtype } from "../../codec/dtype.ts";
import { createLlama, type Weights } from "./llama.ts";
import { compare, sampleReference } from "./quality.ts";

/** One tensor of the model, as stored. */
export interface ModelTensor {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: number[];
  readonly bytes: Uint8Array;
  /** Its lossless stored size. */
  readonly losslessBytes: number;
}

/** Each tensor's candidates with their size and KL sensitivity. */
export interface Sensitivities {
  readonly tensors: {
    tensor: string;
    options: { spec: string | null; bytes: number; kl: number }[];
  }[];
  readonly positions: number;
}

/**
 * Measures every candidate of every tensor auto may make lossy: its stored size (encoded as the
 * derive would) and the model's KL when only that tensor changes.
 */
export function measureSensitivities(
  tensors: readonly ModelTensor[],
  weights: Weights,
  calibration: { sequences: number; length: number; seed: number },
  chunkBytes: number,
): Sensitivities {
  const ref = sampleReference(
    createLlama(weights),
    calibration.sequences,
    calibration.length,
    calibration.seed,
  );
  const out: Sensitivities["tensors"] = [];
  for (const t of tensors) {
    const exact = { spec: null as string | null, bytes: t.losslessBytes, kl: 0 };
    if (keepExactReason(t.name, t) !== null) {
      out.push({ tensor: t.name, options: [exact] });
      continue;
    }
    const options = [exact];
    for (const c of AUTO_LADDER) {
      const v = encodeVariant(t, parseSpec(c.spec) as never, c.spec, { mode: "best", chunkBytes });
      const bytes = v.chunks.reduce((s, ch) => s + ch.stored.length, 0);
      const changed = new Map(weights);
      changed.set(t.name, toFloat32(v.dequantised, t.dtype));
      options.push({
        spec: c.spec,
        bytes,
        kl: Math.max(0, compare(createLlama(changed), ref).meanKl),
      });
    }
    out.push({ tensor: t.name, options });
  }
  return { tensors: out, positions: ref.positions };
}

/** The per-tensor choice for a KL budget. */
export function klPlan(s: Sensitivities, budget: number): Map<string, string | null> {
  return planByKl(s.tensors, budget);
}
