/**
 * Packing on encode workers writes the same bytes as packing on one thread, and a pool that is
 * closed or fails leaves nothing running.
 */
import assert from "node:assert/strict";
import { planeLayout } from "../../codec/dtype.ts";
import { decodeChunk } from "../../codec/chunk_decode.ts";
import { createEncodePool } from "../../src/pack/encode_pool.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { normalBf16, normalBf16OriginF32, Rng } from "../codec/prng.ts";
import { listDir, openBytes, packBytes, readOriginal, withTempDir } from "../helpers/container.ts";

Deno.test("encode pool: packing on 2 workers is byte-identical to one thread, both modes", async () => {
  const rng = new Rng(31);
  const src = buildSafetensors([
    {
      name: "model.layers.0.w",
      dtype: "BF16",
      shape: [512, 700],
      data: normalBf16(rng, 512 * 700),
    },
    { name: "model.layers.0.b", dtype: "F32", shape: [300], data: normalBf16OriginF32(rng, 300) },
    { name: "model.layers.1.w", dtype: "BF16", shape: [40, 5000], data: normalBf16(rng, 200000) },
    { name: "model.layers.1.q", dtype: "I8", shape: [3000] },
    { name: "model.norm", dtype: "F16", shape: [0] },
  ]);
  await withTempDir(async (dir) => {
    for (const mode of ["fast", "best"] as const) {
      const one = await packBytes(src, dir, { mode, workers: 0, chunkBytes: 64 << 10 }, `${mode}0`);
      const two = await packBytes(src, dir, { mode, workers: 2, chunkBytes: 64 << 10 }, `${mode}2`);
      assert.ok(one.index.tensors.reduce((n, t) => n + t.encodings.length, 0) > 0);
      assert.deepEqual(two.bytes, one.bytes, mode);
      assert.deepEqual(await readOriginal(await openBytes(two.bytes)), src);
    }
    assert.deepEqual(listDir(dir).sort(), ["best0", "best2", "fast0", "fast2"]);
  });
});

Deno.test("encode pool: chunks come back with their checksums; a closed pool refuses", async () => {
  const pool = createEncodePool(2);
  try {
    const rng = new Rng(32), layout = planeLayout("BF16");
    const raws = [normalBf16(rng, 4096), normalBf16(rng, 100), new Uint8Array(64)];
    const chunks = await Promise.all(raws.map((r) => pool.encode(r, layout, "fast")));
    chunks.forEach((c, i) => {
      const out = new Uint8Array(raws[i].length);
      decodeChunk(
        c.stored,
        {
          storedLength: c.stored.length,
          rawLength: raws[i].length,
          storedXxh32: c.storedXxh32,
          rawXxh32: c.rawXxh32,
        },
        layout,
        out,
        { verifyStored: true },
      );
      assert.deepEqual(out, raws[i]);
    });
    // An element count that is not whole fails in the worker and rejects, without killing it.
    await assert.rejects(
      pool.encode(new Uint8Array(3), layout, "fast"),
      /not whole 2-byte elements/,
    );
    assert.ok((await pool.encode(raws[1], layout, "best")).stored.length > 0);
  } finally {
    pool.close();
  }
  await assert.rejects(pool.encode(new Uint8Array(2), planeLayout("BF16"), "fast"), /closed/);
});
