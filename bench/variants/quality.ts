/**
 * Judges a model against a reference model on sequences sampled from the reference: mean
 * KL(reference ‖ model) of the next-token distributions and top-1 agreement.
 * @module
 */
import type { Llama } from "./llama.ts";

/** Sequences sampled from the reference with their next-token log-probabilities. */
export interface Reference {
  /** Token sequences; each starts with the BOS token 1. */
  readonly sequences: number[][];
  /** Log-probabilities at every position of every sequence, back to back (vocab each). */
  readonly logProbs: Float32Array;
  /** Arg-max token at each position. */
  readonly top: Int32Array;
  /** Positions in all. */
  readonly positions: number;
}

/** A seeded PRNG (mulberry32), so the sampled sequences are the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function logSoftmax(logits: Float32Array, out: Float32Array): number {
  let max = -Infinity, best = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i], best = i;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const log = Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - max - log;
  return best;
}

/**
 * Samples `count` sequences of `length` positions from `model` at temperature 1 with `seed`,
 * recording its distributions.
 */
export function sampleReference(
  model: Llama,
  count: number,
  length: number,
  seed: number,
): Reference {
  const vocab = model.config.vocab, next = rng(seed);
  const logProbs = new Float32Array(count * length * vocab);
  const top = new Int32Array(count * length);
  const sequences: number[][] = [];
  for (let s = 0; s < count; s++) {
    const seq = [1];
    for (let pos = 0; pos < length; pos++) {
      const at = (s * length + pos) * vocab;
      const lp = logProbs.subarray(at, at + vocab);
      top[s * length + pos] = logSoftmax(model.step(seq[pos], pos), lp);
      let u = next(), token = vocab - 1;
      for (let i = 0; i < vocab; i++) {
        u -= Math.exp(lp[i]);
        if (u < 0) {
          token = i;
          break;
        }
      }
      seq.push(token);
    }
    sequences.push(seq);
  }
  return { sequences, logProbs, top, positions: count * length };
}

/** Mean KL(reference ‖ model) in nats and the share of positions whose arg-max agrees. */
export interface Agreement {
  readonly meanKl: number;
  readonly top1: number;
}

/** Runs `model` over the reference's sequences (teacher-forced) and compares. */
export function compare(model: Llama, ref: Reference): Agreement {
  const vocab = model.config.vocab, lq = new Float32Array(vocab);
  let kl = 0, agree = 0;
  const length = ref.positions / ref.sequences.length;
  ref.sequences.forEach((seq, s) => {
    for (let pos = 0; pos < length; pos++) {
      const best = logSoftmax(model.step(seq[pos], pos), lq);
      const at = (s * length + pos) * vocab;
      let d = 0;
      for (let i = 0; i < vocab; i++) {
        const lp = ref.logProbs[at + i];
        d += Math.exp(lp) * (lp - lq[i]);
      }
      kl += d;
      if (best === ref.top[s * length + pos]) agree++;
    }
  });
  return { meanKl: kl / ref.positions, top1: agree / ref.positions };
}
