/**
 * A decode thread's own reads and writes: the stored runs of a block, read from the container file,
 * are the container's bytes there; a file that is not the one the source opened is refused.
 */
import assert from "node:assert/strict";
import { blockRuns } from "../../src/container/assemble.ts";
import { planBlocks, tensorPiece } from "../../src/container/plan.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { blockReader, blockWriter } from "../../src/threads/block_io.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { dtypeData, packBytes, withTempDir } from "../helpers/container.ts";

Deno.test("blockReader: reads each block's runs from the file; refuses another file at the path", () =>
  withTempDir(async (dir) => {
    const rng = new Rng(4);
    const src = buildSafetensors([
      { name: "a", dtype: "BF16", shape: [256, 300], data: dtypeData("BF16", 76800, rng) },
      { name: "b", dtype: "F32", shape: [40], data: dtypeData("F32", 40, rng) },
    ]);
    const { path, bytes } = await packBytes(src, dir, { mode: "fast", chunkBytes: 8192 });
    const c = await openContainerFile(path);
    const reader = blockReader();
    try {
      const file = c.source.file!;
      const pieces = c.index.tensors.map(tensorPiece);
      for (const block of planBlocks(pieces, { blockBytes: 32768 })) {
        const runs = reader.read(file, block);
        assert.deepEqual(
          runs.map((r) => [r.start, r.bytes.length]),
          blockRuns(block, 64 << 10).map((r) => [r.start, r.end - r.start]),
        );
        for (const r of runs) {
          assert.deepEqual(r.bytes, bytes.subarray(r.start, r.start + r.bytes.length));
        }
      }
      reader.close();
      await Deno.writeFile(path, bytes.subarray(0, bytes.length - 1));
      const block = planBlocks(pieces).next().value!;
      assert.throws(() => reader.read(file, block), /changed after it was opened/);
    } finally {
      reader.close();
      c.source.close();
    }
  }));

Deno.test("blockWriter: writes blocks at their offsets", () =>
  withTempDir(async (dir) => {
    const path = `${dir}/out`;
    await Deno.writeFile(path, new Uint8Array(0));
    const writer = blockWriter();
    try {
      writer.writeAt(path, 4, Uint8Array.of(5, 6));
      writer.writeAt(path, 0, Uint8Array.of(1, 2, 3, 4));
    } finally {
      writer.close();
    }
    assert.deepEqual(await Deno.readFile(path), Uint8Array.of(1, 2, 3, 4, 5, 6));
  }));
