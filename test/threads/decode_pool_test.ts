/**
 * The decode pool runs blocks on worker threads exactly as on the calling thread; a corrupt chunk
 * decoded in a worker comes back as the same ContainerError, naming the chunk.
 */
import assert from "node:assert/strict";
import { assemble } from "../../src/container/assemble.ts";
import { ContainerError } from "../../src/container/errors.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { planBlocks, tensorPiece } from "../../src/container/plan.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { createDecodePool, INLINE_BYTES } from "../../src/threads/decode_pool.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { concat, dtypeData, openBytes, packBytes, withTempDir } from "../helpers/container.ts";

Deno.test("decode pool: workers and this thread agree; a worker's corrupt chunk is a ContainerError", () =>
  withTempDir(async (dir) => {
    const rng = new Rng(9);
    const n = 512 * 512;
    const src = buildSafetensors([
      { name: "w", dtype: "BF16", shape: [512, 512], data: dtypeData("BF16", n, rng) },
    ]);
    const { bytes, index } = await packBytes(src, dir, { mode: "fast" });
    const pool = createDecodePool(2, nativeBackends());
    try {
      const c = await openBytes(bytes);
      const t = c.index.tensors[0];
      const blocks = [...planBlocks([tensorPiece(t)], { blockBytes: 4 * INLINE_BYTES })];
      assert.ok(blocks.every((b) => b.rawBytes >= INLINE_BYTES), "every block goes to a worker");
      const parts: Uint8Array[] = [];
      for await (const p of assemble(c, blocks, { executor: pool })) parts.push(p);
      const data = src.subarray(src.length - 2 * n);
      assert.deepEqual(concat(parts), data);
      const [offset, stored] = losslessOf(index.tensors[0]).chunks[1];
      const bad = bytes.slice();
      bad[offset + (stored >> 1)] ^= 0x20;
      const broken = await openBytes(bad);
      await assert.rejects(
        async () => {
          for await (
            const _ of assemble(broken, planBlocks([tensorPiece(broken.index.tensors[0])]), {
              executor: pool,
            })
          ) {
            // drain
          }
        },
        (e) =>
          e instanceof ContainerError && e.kind === "chunk_corrupt" && /chunk 1/.test(e.message),
      );
    } finally {
      pool.close();
    }
  }));

Deno.test("decode pool: given the container file, workers read each block's chunks there", () =>
  withTempDir(async (dir) => {
    const rng = new Rng(10);
    const src = buildSafetensors([
      { name: "w", dtype: "BF16", shape: [384, 512], data: dtypeData("BF16", 384 * 512, rng) },
      { name: "v", dtype: "F32", shape: [96, 300], data: dtypeData("F32", 96 * 300, rng) },
    ]);
    const { path } = await packBytes(src, dir, { mode: "fast" });
    const c = await openContainerFile(path);
    const pool = createDecodePool(2, nativeBackends(), { input: c.source.file });
    try {
      assert.equal(pool.reads, c.source.file);
      const pieces = c.index.tensors.map(tensorPiece);
      const blocks = [...planBlocks(pieces, { blockBytes: 4 * INLINE_BYTES })];
      const parts: Uint8Array[] = [];
      for await (const p of assemble(c, blocks, { executor: pool, recycle: true })) {
        parts.push(p.slice());
      }
      assert.deepEqual(concat(parts), src.subarray(src.length - 384 * 512 * 2 - 96 * 300 * 4));
    } finally {
      pool.close();
      c.source.close();
    }
  }));
