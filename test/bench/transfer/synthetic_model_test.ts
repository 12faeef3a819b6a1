/**
 * The transfer bench's synthetic many-tensor model, built small from the shipped fixture: a valid
 * safetensors file that follows the recipe, the same bytes every time.
 * @module
 */
import assert from "node:assert/strict";
import { decodeHeaderLength, parseHeader } from "../../../src/safetensors/parse.ts";
import {
  buildSyntheticModel,
  MEDIUM_SHAPES,
  MID_PER_BLOCK,
  SMALL_PER_BLOCK,
} from "../../../bench/transfer/synthetic_model.ts";
import { fileSha256 } from "../../../bench/transfer/file_sha256.ts";

const FIXTURE = new URL("../../fixtures/stories260k.bf16.safetensors", import.meta.url).pathname;

Deno.test("synthetic model: valid, as large as asked, made of the source's tensors, repeatable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/data`);
    await Deno.copyFile(FIXTURE, `${dir}/data/stories260k.bf16.safetensors`);
    const m = await buildSyntheticModel({
      dataDir: `${dir}/data`,
      out: `${dir}/a.safetensors`,
      minTensors: 200,
      minBytes: 20e6,
    });
    assert.ok(m.tensors >= 200 && m.size >= 20e6, `${m.tensors} tensors, ${m.size} bytes`);
    const perBlock = SMALL_PER_BLOCK + MID_PER_BLOCK + MEDIUM_SHAPES.length;
    assert.equal(m.tensors, 3 + m.blocks * perBlock);
    assert.equal(m.sha256, await fileSha256(m.path));
    const file = await Deno.readFile(m.path);
    const n = decodeHeaderLength(file.subarray(0, 8), file.length);
    const header = parseHeader(file.subarray(8, 8 + n), file.length); // throws if invalid
    assert.equal(header.tensors.length, m.tensors);
    assert.ok(header.tensors.every((t) => t.dtype === "BF16"));
    assert.equal(header.tensors[0].name, "model.embed_tokens.weight");
    // The first small tensor is the source's first small tensor, byte for byte.
    const src = await Deno.readFile(FIXTURE);
    const sn = decodeHeaderLength(src.subarray(0, 8), src.length);
    const sh = parseHeader(src.subarray(8, 8 + sn), src.length);
    const firstSmall = sh.tensors.find((t) => t.end - t.begin > 0 && t.end - t.begin < 4096)!;
    const norm = header.tensors.find((t) => t.name === "model.layers.0.norm0.weight")!;
    assert.deepEqual(norm.shape, firstSmall.shape);
    assert.deepEqual(
      file.subarray(header.dataStart + norm.begin, header.dataStart + norm.end),
      src.subarray(sh.dataStart + firstSmall.begin, sh.dataStart + firstSmall.end),
    );
    const again = await buildSyntheticModel({
      dataDir: `${dir}/data`,
      out: `${dir}/b.safetensors`,
      minTensors: 200,
      minBytes: 20e6,
    });
    assert.equal(again.sha256, m.sha256);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("synthetic model: a folder without BF16 files is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      buildSyntheticModel({ dataDir: dir, out: `${dir}/x.safetensors` }),
      /no \*\.bf16\.safetensors/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
