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

/** A container file of a wide BF16 matrix (several tiles per band) and a small F32 one. */
async function wideModel(dir: string, seed: number) {
  const rng = new Rng(seed);
  const src = buildSafetensors([
    { name: "w", dtype: "BF16", shape: [256, 2048], data: dtypeData("BF16", 256 * 2048, rng) },
    { name: "v", dtype: "F32", shape: [96, 300], data: dtypeData("F32", 96 * 300, rng) },
  ]);
  const { path } = await packBytes(src, dir, { mode: "fast" });
  return { src, path, data: src.subarray(src.length - 256 * 2048 * 2 - 96 * 300 * 4) };
}

for (const workers of [2, 0]) {
  Deno.test(`decode pool (${workers} workers): servingFrom reads the file on the decoding threads and sends exact buffers`, () =>
    withTempDir(async (dir) => {
      const { path, data } = await wideModel(dir, 11);
      const c = await openContainerFile(path);
      const pool = createDecodePool(workers, nativeBackends());
      try {
        const served = pool.servingFrom(c.source);
        assert.equal(served.reads, c.source.file);
        const blocks = [...planBlocks(c.index.tensors.map(tensorPiece), { blockBytes: 256 << 10 })];
        // Tiles decoded beside the output, then copied into rows: the case exact outputs are for.
        assert.ok(blocks.some((b) => b.bufferBytes > b.length && b.rawBytes >= INLINE_BYTES));
        const parts: Uint8Array[] = [];
        for await (const p of assemble(c, blocks, { executor: served })) {
          assert.equal(p.byteOffset, 0);
          assert.equal(p.buffer.byteLength, p.length, "the buffer holds the output and no more");
          parts.push(p);
        }
        assert.deepEqual(concat(parts), data);
      } finally {
        pool.close();
        c.source.close();
      }
    }));
}

Deno.test("decode pool: servingFrom reads through the source once the file at its path is gone or replaced", () =>
  withTempDir(async (dir) => {
    const { path, data } = await wideModel(dir, 12);
    const c = await openContainerFile(path);
    const pool = createDecodePool(2, nativeBackends());
    try {
      const read = async () => {
        const parts: Uint8Array[] = [];
        const pieces = c.index.tensors.map(tensorPiece);
        for await (
          const p of assemble(c, planBlocks(pieces), { executor: pool.servingFrom(c.source) })
        ) {
          parts.push(p);
        }
        return concat(parts);
      };
      // Open readers survive the object's removal (the store's contract), and so must a body.
      await Deno.remove(path);
      assert.deepEqual(await read(), data);
      // Another file at the path: the workers refuse it, the source still reads the one it opened.
      await Deno.mkdir(`${dir}/other`);
      const other = await wideModel(`${dir}/other`, 13);
      await Deno.rename(other.path, path);
      assert.deepEqual(await read(), data);
    } finally {
      pool.close();
      c.source.close();
    }
  }));
