/**
 * The first-run experience: an empty models folder gets the shipped demo model, so that
 * `deno task serve` on a fresh clone serves something at once.
 * @module
 */
import { DEMO_MODEL } from "../cli/demo.ts";
import type { RepoStore } from "../store/repo_store.ts";

/** Where the demo model goes in the store. */
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
 * Publishes the demo model into `store` when it holds no model; returns its id when it did, else
 * null.
 *
 * @example
 * ```ts
 * const published = await ensureDemoModel(store);
 * if (published) console.log(`published the demo model as ${published}`);
 * ```
 */
export async function ensureDemoModel(store: RepoStore): Promise<string | null> {
  if ((await store.reader.list()).length > 0) return null;
  const file = await Deno.open(DEMO_MODEL);
  const model = await store.receive(file.readable, { maxBytes: Number.MAX_SAFE_INTEGER });
  const config = await store.receive(
    new Blob([JSON.stringify(DEMO_CONFIG, null, 2) + "\n"]).stream(),
    { maxBytes: 1 << 20 },
  );
  await store.publish(DEMO_ID.org, DEMO_ID.name, DEMO_ID.revision, {
    title: "Add the demo model (llama2.c stories260K)",
    files: [{ path: "model.safetensors", content: model }, {
      path: "config.json",
      content: config,
    }],
  });
  return `${DEMO_ID.org}/${DEMO_ID.name}`;
}
