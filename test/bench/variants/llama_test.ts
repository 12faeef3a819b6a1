import assert from "node:assert/strict";
import { createLlama, greedy, STORIES260K, weightNames } from "../../../bench/variants/llama.ts";
import { compare, sampleReference } from "../../../bench/variants/quality.ts";
import { readWeights } from "../../../bench/variants/weights.ts";
import { dataDir, exists } from "../../../bench/variants/data_dir.ts";

const FP32 = `${dataDir()}stories260k.fp32.safetensors`;
const KNOWN = "461 461 401 401 401 461 378 455 473 456 435 299 362 409 283 264 283 452 288 13 " +
  "431 431 431 431 431 431 431 431 431 431 431";

Deno.test({
  name: "llama: greedy decoding of stories260k FP32 from token 1 is llama2.c's sequence",
  ignore: !exists(FP32),
  async fn() {
    const weights = await readWeights(FP32);
    assert.deepEqual([...weights.keys()].sort(), weightNames(STORIES260K).sort());
    assert.equal(greedy(createLlama(weights), 1, 31).join(" "), KNOWN);
  },
});

Deno.test({
  name: "llama: the reference agrees with itself (KL 0, top-1 1), and a weaker copy does not",
  ignore: !exists(FP32),
  async fn() {
    const weights = await readWeights(FP32);
    const ref = sampleReference(createLlama(weights), 2, 16, 42);
    const self = compare(createLlama(weights), ref);
    assert.ok(Math.abs(self.meanKl) < 1e-9, `KL ${self.meanKl}`);
    assert.equal(self.top1, 1);
    const noisy = new Map(weights);
    const w = Float32Array.from(
      weights.get("model.layers.0.mlp.down_proj.weight")!,
      (x) => x * 0.5,
    );
    noisy.set("model.layers.0.mlp.down_proj.weight", w);
    assert.ok(compare(createLlama(noisy), ref).meanKl > 1e-4);
  },
});

Deno.test("llama: a missing weight is named", () => {
  assert.throws(() => createLlama(new Map()), /model\.embed_tokens\.weight/);
});
