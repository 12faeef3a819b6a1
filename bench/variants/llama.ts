/**
 * A minimal Llama forward pass for llama2.c checkpoints stored under Hugging Face names
 * (stories260k): RMSNorm, grouped-query attention with RoPE on adjacent pairs, SwiGLU MLP, and
 * the embedding as output head. It judges lossy variants by what they do to a real model's
 * next-token distributions; it is a benchmark tool, not part of the product.
 * @module
 */

/** The model's shape. */
export interface LlamaConfig {
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly hidden: number;
  readonly vocab: number;
  readonly maxSeq: number;
  readonly eps: number;
}

/** stories260k: dim 64, 5 layers, 8 heads of 8, 4 KV heads, MLP 172, vocabulary 512. */
export const STORIES260K: LlamaConfig = {
  dim: 64,
  layers: 5,
  heads: 8,
  kvHeads: 4,
  hidden: 172,
  vocab: 512,
  maxSeq: 512,
  eps: 1e-5,
};

/** Weights by Hugging Face tensor name, as binary32. */
export type Weights = ReadonlyMap<string, Float32Array>;

/** The tensor names a Llama of `config` needs. */
export function weightNames(config: LlamaConfig): string[] {
  const names = ["model.embed_tokens.weight", "model.norm.weight"];
  for (let l = 0; l < config.layers; l++) {
    const p = `model.layers.${l}.`;
    names.push(
      `${p}input_layernorm.weight`,
      `${p}post_attention_layernorm.weight`,
      ...["q", "k", "v", "o"].map((x) => `${p}self_attn.${x}_proj.weight`),
      ...["gate", "up", "down"].map((x) => `${p}mlp.${x}_proj.weight`),
    );
  }
  return names;
}

/** A model ready to run, with its KV cache. */
export interface Llama {
  readonly config: LlamaConfig;
  /** Runs `token` at `pos` (0, 1, … in order) and returns the logits (a reused buffer). */
  step(token: number, pos: number): Float32Array;
}

// out[rows] = w[rows × cols] · x[cols], accumulated in binary32 like llama2.c's matmul.
function matmul(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, cols: number) {
  for (let i = 0; i < rows; i++) {
    let acc = 0;
    const base = i * cols;
    for (let j = 0; j < cols; j++) acc = Math.fround(acc + Math.fround(w[base + j] * x[j]));
    out[i] = acc;
  }
}

function rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, eps: number) {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  for (let i = 0; i < x.length; i++) out[i] = w[i] * (scale * x[i]);
}

/** Builds a model from `weights`; throws naming any missing or mis-sized tensor. */
export function createLlama(weights: Weights, config: LlamaConfig = STORIES260K): Llama {
  const { dim, heads, kvHeads, hidden, vocab, maxSeq, layers, eps } = config;
  const headSize = dim / heads, kvDim = kvHeads * headSize, kvMul = heads / kvHeads;
  const get = (name: string, size: number) => {
    const w = weights.get(name);
    if (!w || w.length !== size) {
      throw new Error(`weight ${name}: expected ${size} values, found ${w?.length ?? "none"}`);
    }
    return w;
  };
  const embed = get("model.embed_tokens.weight", vocab * dim);
  const finalNorm = get("model.norm.weight", dim);
  const L = Array.from({ length: layers }, (_, l) => {
    const p = `model.layers.${l}.`;
    return {
      attnNorm: get(`${p}input_layernorm.weight`, dim),
      ffnNorm: get(`${p}post_attention_layernorm.weight`, dim),
      wq: get(`${p}self_attn.q_proj.weight`, dim * dim),
      wk: get(`${p}self_attn.k_proj.weight`, kvDim * dim),
      wv: get(`${p}self_attn.v_proj.weight`, kvDim * dim),
      wo: get(`${p}self_attn.o_proj.weight`, dim * dim),
      w1: get(`${p}mlp.gate_proj.weight`, hidden * dim),
      w3: get(`${p}mlp.up_proj.weight`, hidden * dim),
      w2: get(`${p}mlp.down_proj.weight`, dim * hidden),
      keys: new Float32Array(maxSeq * kvDim),
      values: new Float32Array(maxSeq * kvDim),
    };
  });
  const x = new Float32Array(dim), xb = new Float32Array(dim), xb2 = new Float32Array(dim);
  const q = new Float32Array(dim), k = new Float32Array(kvDim), v = new Float32Array(kvDim);
  const hb = new Float32Array(hidden), hb2 = new Float32Array(hidden);
  const att = new Float32Array(maxSeq), logits = new Float32Array(vocab);
  // RoPE: the pair (j, j+1), j even, turns by pos × 10000^(−(j mod headSize)/headSize).
  const freq = Float64Array.from(
    { length: headSize / 2 },
    (_, i) => 10000 ** (-(2 * i) / headSize),
  );
  return {
    config,
    step(token, pos) {
      if (pos >= maxSeq) throw new RangeError(`position ${pos} is past ${maxSeq}`);
      x.set(embed.subarray(token * dim, (token + 1) * dim));
      for (const layer of L) {
        rmsnorm(xb, x, layer.attnNorm, eps);
        matmul(q, xb, layer.wq, dim, dim);
        matmul(k, xb, layer.wk, kvDim, dim);
        matmul(v, xb, layer.wv, kvDim, dim);
        for (let j = 0; j < dim; j += 2) {
          const angle = pos * freq[(j % headSize) / 2];
          const c = Math.cos(angle), s = Math.sin(angle);
          const rotate = (vec: Float32Array) => {
            const a = vec[j], b = vec[j + 1];
            vec[j] = a * c - b * s;
            vec[j + 1] = a * s + b * c;
          };
          rotate(q);
          if (j < kvDim) rotate(k);
        }
        layer.keys.set(k, pos * kvDim);
        layer.values.set(v, pos * kvDim);
        xb.fill(0);
        for (let h = 0; h < heads; h++) {
          const qo = h * headSize, ko = Math.floor(h / kvMul) * headSize;
          let max = -Infinity;
          for (let t = 0; t <= pos; t++) {
            let score = 0;
            for (let i = 0; i < headSize; i++) score += q[qo + i] * layer.keys[t * kvDim + ko + i];
            att[t] = score / Math.sqrt(headSize);
            if (att[t] > max) max = att[t];
          }
          let sum = 0;
          for (let t = 0; t <= pos; t++) sum += att[t] = Math.exp(att[t] - max);
          for (let t = 0; t <= pos; t++) {
            const a = att[t] / sum;
            for (let i = 0; i < headSize; i++) xb[qo + i] += a * layer.values[t * kvDim + ko + i];
          }
        }
        matmul(xb2, xb, layer.wo, dim, dim);
        for (let i = 0; i < dim; i++) x[i] += xb2[i];
        rmsnorm(xb, x, layer.ffnNorm, eps);
        matmul(hb, xb, layer.w1, hidden, dim);
        matmul(hb2, xb, layer.w3, hidden, dim);
        for (let i = 0; i < hidden; i++) hb[i] = (hb[i] / (1 + Math.exp(-hb[i]))) * hb2[i];
        matmul(xb, hb, layer.w2, dim, hidden);
        for (let i = 0; i < dim; i++) x[i] += xb[i];
      }
      rmsnorm(xb, x, finalNorm, eps);
      matmul(logits, xb, embed, vocab, dim);
      return logits;
    },
  };
}

/** Greedy decoding from `first` for `steps` tokens, as llama2.c's run.c does at temperature 0. */
export function greedy(model: Llama, first: number, steps: number): number[] {
  const out: number[] = [];
  let token = first;
  for (let pos = 0; pos < steps; pos++) {
    const logits = model.step(token, pos);
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    out.push(best);
    token = best;
  }
  return out;
}
