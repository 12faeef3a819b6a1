/**
 * The synthetic checkpoint over 2 GB that the benchmarks build to show that memory does not grow
 * with the file (`bench/codec_bench.ts`, `bench/transfer/`): a Llama-style tensor plan and a
 * writer that fills it with real weights. Moved out of codec_bench.ts unchanged so that both
 * benches build the same file.
 * @module
 */

const MIB = 1024 * 1024;

async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
}

/** One tensor of the synthetic checkpoint. */
export interface PlannedTensor {
  /** Tensor name. */
  name: string;
  /** Dimensions. */
  shape: number[];
}

/**
 * The tensors of a Llama-style BF16 checkpoint with TinyLlama-1.1B's geometry (hidden 2048, MLP
 * 5632, vocabulary 32000) and as many blocks as reach `target` bytes: a few hundred large tensors,
 * as in a real checkpoint, so that the index stays small and memory shows what streaming costs.
 */
export function llamaPlan(target: number): PlannedTensor[] {
  const h = 2048, f = 5632, vocab = 32000;
  const block = (l: number): PlannedTensor[] => [
    { name: `model.layers.${l}.input_layernorm.weight`, shape: [h] },
    { name: `model.layers.${l}.self_attn.q_proj.weight`, shape: [h, h] },
    { name: `model.layers.${l}.self_attn.k_proj.weight`, shape: [h / 8, h] },
    { name: `model.layers.${l}.self_attn.v_proj.weight`, shape: [h / 8, h] },
    { name: `model.layers.${l}.self_attn.o_proj.weight`, shape: [h, h] },
    { name: `model.layers.${l}.post_attention_layernorm.weight`, shape: [h] },
    { name: `model.layers.${l}.mlp.gate_proj.weight`, shape: [f, h] },
    { name: `model.layers.${l}.mlp.up_proj.weight`, shape: [f, h] },
    { name: `model.layers.${l}.mlp.down_proj.weight`, shape: [h, f] },
  ];
  const bytes = (ts: PlannedTensor[]) =>
    ts.reduce((s, t) => s + 2 * t.shape.reduce((a, b) => a * b, 1), 0);
  const plan: PlannedTensor[] = [{ name: "model.embed_tokens.weight", shape: [vocab, h] }];
  const tail: PlannedTensor[] = [
    { name: "model.norm.weight", shape: [h] },
    { name: "lm_head.weight", shape: [vocab, h] },
  ];
  for (let l = 0; bytes(plan) + bytes(tail) < target; l++) plan.push(...block(l));
  return [...plan, ...tail];
}

/**
 * Writes the BF16 safetensors file `plan` describes, filling tensors with the real weights of
 * `data` (a BF16 data section) over and over, streaming through a 16 MiB buffer.
 */
export async function writeBigFile(
  data: Uint8Array,
  plan: PlannedTensor[],
  path: string,
): Promise<{ size: number; layers: number; tensors: number; headerBytes: number }> {
  const parts: string[] = [];
  let off = 0;
  for (const t of plan) {
    const len = 2 * t.shape.reduce((a, b) => a * b, 1);
    parts.push(
      `${JSON.stringify(t.name)}:{"dtype":"BF16","shape":${JSON.stringify(t.shape)},` +
        `"data_offsets":[${off},${off + len}]}`,
    );
    off += len;
  }
  let json = `{"__metadata__":{"format":"pt","note":"tessera bench synthetic"},${parts.join(",")}}`;
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const header = new TextEncoder().encode(json);
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
    await writeAll(f, prefix);
    await writeAll(f, header);
    const buf = new Uint8Array(16 * MIB);
    // Whole elements only, so that every tensor starts on an element of the source.
    const usable = data.length & ~1;
    let src = 0, left = off;
    while (left > 0) {
      let fill = 0;
      while (fill < buf.length && left > 0) {
        const n = Math.min(buf.length - fill, usable - src, left);
        buf.set(data.subarray(src, src + n), fill);
        fill += n, left -= n, src += n;
        if (src === usable) src = 0;
      }
      await writeAll(f, buf.subarray(0, fill));
    }
  } finally {
    f.close();
  }
  return {
    size: 8 + header.length + off,
    layers: plan.filter((t) => t.name.endsWith("q_proj.weight")).length,
    tensors: plan.length,
    headerBytes: header.length,
  };
}
