/**
 * The first-run experience: an empty models folder gets the shipped demo model, so that
 * `deno task serve` on a fresh clone serves something at once.
 * @module
 */
import { DEMO_MODEL } from "../cli/demo.ts";
import { packFile } from "../container/write.ts";
import { createAtomicFile } from "../io/atomic_file.ts";
import { listModels } from "../store/layout.ts";

/** Where the demo model goes under the models folder. */
export const DEMO_ID = { org: "demo", name: "stories260k", revision: "main" } as const;

/** `config.json` of the demo model (llama2.c stories260K: see test/fixtures/PROVENANCE.md). */
export const DEMO_CONFIG = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 64,
  intermediate_size: 172,
  num_hidden_layers: 5,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  vocab_size: 512,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
};

/**
 * Packs the demo model into `root` when it holds no model; returns the container path when it
 * did, else null.
 *
 * @example
 * ```ts
 * const packed = await ensureDemoModel("./models");
 * if (packed) console.log(`packed the demo model into ${packed}`);
 * ```
 */
export async function ensureDemoModel(root: string): Promise<string | null> {
  if ((await listModels(root)).length > 0) return null;
  const dir = `${root}/${DEMO_ID.org}/${DEMO_ID.name}/${DEMO_ID.revision}`;
  await Deno.mkdir(dir, { recursive: true });
  const f = await createAtomicFile(`${dir}/config.json`);
  try {
    await f.writeAt(0, new TextEncoder().encode(JSON.stringify(DEMO_CONFIG, null, 2) + "\n"));
    await f.commit();
  } catch (e) {
    await f.abort();
    throw e;
  }
  const path = `${dir}/model.tsr`;
  await packFile(DEMO_MODEL, path, { mode: "best" });
  return path;
}
