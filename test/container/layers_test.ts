/** Layer keys and the progressive-loading order of layers. */
import assert from "node:assert/strict";
import { DEFAULT_LAYER_PATTERN, layerKey, layerOrder } from "../../src/container/layers.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { packFile } from "../../src/pack/write.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { openBytes, packBytes, withTempDir } from "../helpers/container.ts";

Deno.test("layerKey: Hugging Face and other common tensor names", () => {
  const cases: [string, string][] = [
    ["model.layers.12.mlp.up_proj.weight", "model.layers.12"],
    ["model.layers.0.self_attn.q_proj.weight", "model.layers.0"],
    ["model.layers.7.input_layernorm.weight", "model.layers.7"],
    ["model.embed_tokens.weight", "model.embed_tokens"],
    ["model.norm.weight", "model.norm"],
    ["lm_head.weight", "lm_head"],
    ["transformer.h.3.attn.c_attn.weight", "transformer.h.3"],
    ["transformer.h.11.mlp.c_proj.bias", "transformer.h.11"],
    ["transformer.wte.weight", "transformer.wte"],
    ["transformer.ln_f.weight", "transformer.ln_f"],
    // llama2.c / stories260k naming.
    ["layers.0.attention.wq.weight", "layers.0"],
    ["tok_embeddings.weight", "tok_embeddings"],
    ["output.weight", "output"],
    // T5 / BERT-style stacks.
    ["encoder.block.3.layer.0.SelfAttention.q.weight", "encoder.block.3"],
    ["decoder.block.0.layer.1.EncDecAttention.k.weight", "decoder.block.0"],
    ["bert.encoder.layer.5.attention.self.query.weight", "bert.encoder.layer.5"],
    ["model.decoder.layers.2.fc1.weight", "model.decoder.layers.2"],
    ["blocks.4.attn.qkv.weight", "blocks.4"],
    // A name that is its own block: the whole name is the key.
    ["model.layers.3", "model.layers.3"],
    // No dots at all: the name itself.
    ["weight", "weight"],
    [".hidden", ".hidden"],
    // Slash-separated names are handled like dotted ones.
    ["model/layers/4/kernel", "model/layers/4"],
  ];
  for (const [name, key] of cases) assert.equal(layerKey(name), key, name);
  // A number that only starts with the block word's digits is still the whole number.
  assert.equal(layerKey("model.layers.123.w"), "model.layers.123");
  // "h" must be a whole path component: "mha.3" is not a block.
  assert.equal(layerKey("model.mha.3.weight"), "model.mha.3");
  assert.ok(DEFAULT_LAYER_PATTERN.test("model.layers.12."));
});

Deno.test("layerKey: a custom pattern overrides the default", () => {
  const blk = /^(blk_\d+)_/;
  assert.equal(layerKey("blk_3_attn_q", blk), "blk_3");
  assert.equal(layerKey("blk_10_ffn_up", blk), "blk_10");
  // Falls back to the dotted rule when the pattern does not match.
  assert.equal(layerKey("tok_embeddings.weight", blk), "tok_embeddings");
  // Without a capture group, the whole match is the key.
  assert.equal(layerKey("stage2.conv.weight", /^stage\d+/), "stage2");
  // The custom rule replaces the default even for names the default knows.
  assert.equal(layerKey("model.layers.12.mlp.up_proj.weight", /^(model)\./), "model");
});

Deno.test("layerOrder: embeddings first, blocks numerically, then norm and head", () => {
  // File order as safetensors sorts names: lexicographically, so 10 comes before 2.
  const keys = [
    "lm_head",
    "model.embed_tokens",
    "model.layers.0",
    "model.layers.1",
    "model.layers.10",
    "model.layers.11",
    "model.layers.2",
    "model.layers.2",
    "model.layers.9",
    "model.norm",
  ];
  assert.deepEqual(layerOrder(keys), [
    "model.embed_tokens",
    "model.layers.0",
    "model.layers.1",
    "model.layers.2",
    "model.layers.9",
    "model.layers.10",
    "model.layers.11",
    "lm_head",
    "model.norm",
  ]);
  assert.deepEqual(
    layerOrder([
      "transformer.ln_f",
      "transformer.h.10",
      "transformer.wpe",
      "transformer.h.2",
      "transformer.wte",
    ]),
    [
      "transformer.wpe",
      "transformer.wte",
      "transformer.h.2",
      "transformer.h.10",
      "transformer.ln_f",
    ],
  );
  // Two stacks keep the order they first appear in; each is numeric inside.
  assert.deepEqual(
    layerOrder([
      "encoder.block.10",
      "encoder.block.2",
      "decoder.block.1",
      "decoder.block.0",
      "shared.embed",
    ]),
    ["shared.embed", "encoder.block.2", "encoder.block.10", "decoder.block.0", "decoder.block.1"],
  );
  assert.deepEqual(layerOrder([]), []);
  assert.deepEqual(layerOrder(["a", "a", "b"]), ["a", "b"]);
});

Deno.test("layerOrder: the shipped stories260k model loads embeddings, layers 0..n, then norm", async () => {
  await withTempDir(async (dir) => {
    const index = await packFile(
      new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url).pathname,
      `${dir}/s.tsr`,
      { mode: "fast" },
    );
    const blocks = index.layers.filter((l) => /^model\.layers\.\d+$/.test(l));
    assert.ok(blocks.length >= 2);
    assert.deepEqual(index.layers, [
      "model.embed_tokens",
      ...blocks.map((_, i) => `model.layers.${i}`),
      "model.norm",
    ]);
    for (const t of index.tensors) assert.equal(t.layer, layerKey(t.name), t.name);
    const c = await openContainerFile(`${dir}/s.tsr`);
    c.source.close();
    assert.deepEqual(c.index.layers, index.layers);
  });
});

Deno.test("layers: packing with a custom layer pattern records it in the index", async () => {
  const src = buildSafetensors([
    { name: "blk_0_q", dtype: "F16", shape: [2, 2] },
    { name: "blk_0_k", dtype: "F16", shape: [2, 2] },
    { name: "blk_1_q", dtype: "F16", shape: [2, 2] },
    { name: "tok_embeddings.weight", dtype: "F16", shape: [4, 2] },
    { name: "output_norm.weight", dtype: "F16", shape: [2] },
  ]);
  await withTempDir(async (dir) => {
    const { bytes } = await packBytes(src, dir, { layerPattern: /^(blk_\d+)_/ });
    const c = await openBytes(bytes);
    const byName = Object.fromEntries(c.index.tensors.map((t) => [t.name, t.layer]));
    assert.deepEqual(byName, {
      blk_0_q: "blk_0",
      blk_0_k: "blk_0",
      blk_1_q: "blk_1",
      "tok_embeddings.weight": "tok_embeddings",
      "output_norm.weight": "output_norm",
    });
    assert.equal(c.index.layers[0], "tok_embeddings");
    assert.deepEqual(
      new Set(c.index.layers),
      new Set(["tok_embeddings", "blk_0", "blk_1", "output_norm"]),
    );
    assert.equal(c.index.layers.length, 4);
  });
});
