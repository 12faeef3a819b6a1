import assert from "node:assert/strict";
import type { Index, TensorEntry } from "../../src/container/index_schema.ts";
import { buildView, type ModelFile } from "../../src/server/commit_views.ts";

const tensor = (name: string, layer: string) => ({ name, layer } as unknown as TensorEntry);

function modelFile(path: string, tensors: [string, string][]): ModelFile {
  return {
    file: {
      path,
      size: 1,
      sha256: "a".repeat(64),
      gitOid: "b".repeat(40),
      lfs: true,
      container: { sha256: "c".repeat(64), size: 1 },
    },
    index: { tensors: tensors.map(([n, l]) => tensor(n, l)) } as unknown as Index,
  };
}

Deno.test("commit views: layers merge across shards in load order; subfolder models keep their own", () => {
  const view = buildView([
    // Shards split the blocks arbitrarily, the head comes first in shard 1.
    modelFile("model-00001-of-00002.safetensors", [
      ["lm_head.weight", "lm_head"],
      ["model.layers.1.a", "model.layers.1"],
      ["model.embed_tokens.weight", "model.embed_tokens"],
    ]),
    modelFile("model-00002-of-00002.safetensors", [
      ["model.layers.0.a", "model.layers.0"],
      ["model.layers.1.b", "model.layers.1"],
      ["model.layers.10.a", "model.layers.10"],
    ]),
    modelFile("text_encoder/model.safetensors", [
      ["model.embed_tokens.weight", "model.embed_tokens"],
      ["model.layers.0.a", "model.layers.0"],
    ]),
  ]);
  assert.deepEqual(view.layers.map((l) => l.key), [
    "model.embed_tokens",
    "model.layers.0",
    "model.layers.1",
    "model.layers.10",
    "lm_head",
    "text_encoder/model.embed_tokens",
    "text_encoder/model.layers.0",
  ]);
  const layer1 = view.layers[2];
  assert.deepEqual(layer1.tensors.map((r) => [r.file.file.path, r.tensor.name]), [
    ["model-00001-of-00002.safetensors", "model.layers.1.a"],
    ["model-00002-of-00002.safetensors", "model.layers.1.b"],
  ]);
  assert.equal(view.tensors.get("model.embed_tokens.weight")!.length, 2, "one per model");
});
