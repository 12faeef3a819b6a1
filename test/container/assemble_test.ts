/**
 * The planner and the assembler together: any body (the whole original file, any byte range of
 * it, tiles) decodes exactly, for row and column tiles, any block size, on this thread or on the
 * decode pool, with the native kernel or the TypeScript codec; a small range decodes only the
 * tiles under it; a corrupt chunk fails naming it.
 */
import assert from "node:assert/strict";
import { assemble, type BlockExecutor, blockRuns } from "../../src/container/assemble.ts";
import type { Backends } from "../../src/container/backends.ts";
import { portableBackends } from "../../src/container/portable_backends.ts";
import { ContainerError } from "../../src/container/errors.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import type { Container } from "../../src/container/open.ts";
import { planBlocks, slicePieces } from "../../src/container/plan.ts";
import { originalPieces, readOriginalHeader } from "../../src/container/read.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { createDecodePool } from "../../src/threads/decode_pool.ts";
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
  return buildSafetensors(tensors, { note: "assemble" });
}

async function body(
  c: Container,
  start: number,
  end: number,
  blockBytes: number,
  executor?: BlockExecutor,
): Promise<Uint8Array> {
  const pieces = originalPieces(c, await readOriginalHeader(c));
  const parts: Uint8Array[] = [];
  const blocks = planBlocks(slicePieces(pieces, start, end), { blockBytes });
  for await (const p of assemble(c, blocks, { executor, recycle: true })) parts.push(p.slice());
  return concat(parts);
}

Deno.test("assemble: the whole original in both modes, any block size, every backend", async () => {
  const src = model();
  const native = nativeBackends();
  const sets: Backends[] = [native, { ...native, kernel: undefined }, portableBackends];
  await withTempDir(async (dir) => {
    for (const mode of ["fast", "best"] as const) {
      const { bytes, index } = await packBytes(src, dir, { mode, chunkBytes: 4096 });
      assert.ok(index.tensors.some((t) => losslessOf(t).tile[1] < t.shape[t.shape.length - 1]));
      for (const backends of sets) {
        const c = await openBytes(bytes, backends);
        for (const blockBytes of [1, 5000, 1 << 22]) {
          const out = await body(c, 0, src.length, blockBytes);
          assert.deepEqual(out, src, `${mode}, ${backends.name}, blocks of ${blockBytes}`);
        }
      }
    }
  });
});

Deno.test("assemble: any byte range decodes exactly, on this thread and on the pool", async () => {
  const src = model();
  const pool = createDecodePool(2, nativeBackends());
  try {
    await withTempDir(async (dir) => {
      const { bytes } = await packBytes(src, dir, { mode: "fast", chunkBytes: 4096 });
      const c = await openBytes(bytes);
      assert.deepEqual(await body(c, 0, src.length, 1 << 16, pool), src);
      const rng = new Rng(5);
      for (let i = 0; i < 150; i++) {
        const a = rng.int(src.length), b = a + rng.int(Math.min(20000, src.length - a) + 1);
        const got = await body(c, a, b, [1, 4096, 1 << 20][i % 3], i % 2 ? pool : undefined);
        assert.deepEqual(got, src.subarray(a, b), `${a}-${b}`);
      }
    });
  } finally {
    pool.close();
  }
});

Deno.test("assemble: a small range of a wide matrix decodes only the tiles under it", async () => {
  const src = model();
  await withTempDir(async (dir) => {
    const { bytes } = await packBytes(src, dir, { mode: "fast", chunkBytes: 4096 });
    const c = await openBytes(bytes);
    const pieces = originalPieces(c, await readOriginalHeader(c));
    const t = c.index.tensors.find((t) => t.name === "b.wide")!;
    const at = 8 + c.index.source.header.length + t.offsets[0] + 20_000;
    const blocks = [...planBlocks(slicePieces(pieces, at, at + 10))];
    assert.ok(blocks.flatMap((b) => b.jobs).length <= 2);
  });
});

Deno.test("assemble: a corrupted chunk fails with its name, with or without the kernel", async () => {
  const src = model();
  await withTempDir(async (dir) => {
    const { bytes, index } = await packBytes(src, dir, { mode: "fast", chunkBytes: 4096 });
    const t = index.tensors.find((t) => t.name === "c.rows")!;
    const [offset, storedLength] = losslessOf(t).chunks[1];
    const bad = bytes.slice();
    bad[offset + storedLength - 3] ^= 0x10;
    const native = nativeBackends();
    for (const backends of [native, { ...native, kernel: undefined }]) {
      const c = await openBytes(bad, backends);
      await assert.rejects(
        body(c, 0, src.length, 1 << 20),
        (e) =>
          e instanceof ContainerError && e.kind === "chunk_corrupt" && /c\.rows/.test(e.message) &&
          /chunk 1/.test(e.message),
      );
    }
  });
});

Deno.test("blockRuns: chunks in container order, merged across small gaps", () => {
  const job = (offset: number, storedLength: number) => ({
    tensor: "t",
    index: 0,
    offset,
    storedLength,
    rawLength: 1,
    storedXxh32: 0,
    rawXxh32: 0,
    layout: { width: 1, signMoved: false },
    at: 0,
  });
  const block = {
    length: 0,
    bufferBytes: 0,
    literals: [],
    rawBytes: 0,
    jobs: [job(1000, 10), job(64, 100), job(200, 50), job(5000, 1)],
  };
  assert.deepEqual(blockRuns(block, 100), [{ start: 64, end: 250 }, { start: 1000, end: 1010 }, {
    start: 5000,
    end: 5001,
  }]);
  assert.deepEqual(blockRuns(block, 0).length, 4);
});
