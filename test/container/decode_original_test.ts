/**
 * `decodeOriginal`: the block-wise whole-file decode behind `unpack`, with the native kernel and
 * with the TypeScript codec, for row and column tiles, any block size, and corruption.
 */
import assert from "node:assert/strict";
import { decodeOriginal } from "../../src/container/decode_original.ts";
import { ContainerError } from "../../src/container/errors.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { nativeBatch } from "../../src/codec_native/kernel.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors, type FixtureTensor } from "../safetensors/fixture.ts";
import { concat, dtypeData, openBytes, packBytes, withTempDir } from "../helpers/container.ts";

function model(): Uint8Array {
  const rng = new Rng(21);
  const tensors: FixtureTensor[] = [];
  const add = (name: string, dtype: FixtureTensor["dtype"], shape: number[]) =>
    tensors.push({
      name,
      dtype,
      shape,
      data: dtypeData(dtype, shape.reduce((a, b) => a * b, 1), rng),
    });
  add("a.scalar", "F32", []);
  add("b.wide", "BF16", [40, 3000]); // column tiles at a 4 KiB chunk size
  add("c.rows", "F16", [700, 33]);
  add("d.empty", "BF16", [0, 8]);
  add("e.bytes", "U8", [5000]);
  add("f.f32", "F32", [129, 65]);
  return buildSafetensors(tensors, { note: "decode_original" });
}

async function decodeAll(
  bytes: Uint8Array,
  options: Parameters<typeof decodeOriginal>[2],
): Promise<Uint8Array> {
  const c = await openBytes(bytes);
  const parts: Uint8Array[] = [];
  await decodeOriginal(c, (b) => void parts.push(b.slice()), options);
  return concat(parts);
}

Deno.test("decodeOriginal: rebuilds the file in both modes, any block size, either decoder", async () => {
  const src = model();
  await withTempDir(async (dir) => {
    for (const mode of ["fast", "best"] as const) {
      const { bytes, index } = await packBytes(src, dir, { mode, chunkBytes: 4096 });
      assert.ok(index.tensors.some((t) => losslessOf(t).tile[1] < t.shape[t.shape.length - 1]));
      for (const batch of [null, undefined]) {
        for (const blockBytes of [1, 5000, 1 << 22]) {
          const out = await decodeAll(bytes, { batch, blockBytes });
          assert.deepEqual(out, src, `${mode}, ${batch === null ? "TypeScript" : "default"}`);
        }
      }
    }
  });
});

Deno.test("decodeOriginal: a corrupted chunk fails with its name, with or without the kernel", async () => {
  const src = model();
  await withTempDir(async (dir) => {
    const { bytes, index } = await packBytes(src, dir, { mode: "fast", chunkBytes: 4096 });
    const t = index.tensors.find((t) => t.name === "c.rows")!;
    const [offset, storedLength] = losslessOf(t).chunks[1];
    const bad = bytes.slice();
    bad[offset + storedLength - 3] ^= 0x10;
    for (const batch of [null, nativeBatch]) {
      const c = await openBytes(bad);
      await assert.rejects(
        decodeOriginal(c, () => {}, { batch }),
        (e) =>
          e instanceof ContainerError && /c\.rows/.test(e.message) && /chunk 1/.test(e.message),
      );
    }
  });
});
