/**
 * The native executor: blocks read, decoded and written on Deno's blocking threads come out
 * byte-identical to the calling thread's; a corrupt chunk rejects as `chunk_corrupt`; a container
 * file replaced after it was opened is refused; close waits for the calls in flight.
 */
import assert from "node:assert/strict";
import { assemble } from "../../src/container/assemble.ts";
import { countedBlocks, originalPieces, readOriginalHeader } from "../../src/container/read.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { nativeExecutor, nativeExecutorAvailable } from "../../src/threads/native_executor.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { dtypeData, expectContainerError, packBytes, withTempDir } from "../helpers/container.ts";

function model(): Uint8Array {
  const rng = new Rng(31);
  return buildSafetensors([
    { name: "w", dtype: "BF16", shape: [400, 500], data: dtypeData("BF16", 200000, rng) },
    { name: "n", dtype: "F32", shape: [7], data: dtypeData("F32", 7, rng) },
    { name: "u", dtype: "U8", shape: [9000], data: dtypeData("U8", 9000, rng) },
  ]);
}

const skip = !nativeExecutorAvailable();

Deno.test({
  name: "nativeExecutor: reads, decodes and writes blocks like the calling thread",
  ignore: skip,
  fn: () =>
    withTempDir(async (dir) => {
      const src = model();
      const { path } = await packBytes(src, dir, { mode: "best", chunkBytes: 16384 });
      const c = await openContainerFile(path);
      try {
        const out = `${dir}/out.bin`;
        await Deno.writeFile(out, new Uint8Array(0));
        const ex = nativeExecutor(c.backends, {
          input: c.source.file!,
          output: out,
          parallelism: 2,
        })!;
        const pieces = originalPieces(c, await readOriginalHeader(c));
        const blocks = [...countedBlocks(pieces, { blockBytes: 64 << 10 })];
        const yielded: Uint8Array[] = [];
        for await (const b of assemble(c, blocks, { executor: ex, writeFrom: 0 })) {
          yielded.push(b.slice());
        }
        await ex.flush();
        await ex.close();
        const joined = new Uint8Array(src.length);
        let at = 0;
        for (const b of yielded) joined.set(b, at), at += b.length;
        assert.equal(at, src.length);
        assert.deepEqual(joined, src, "yielded");
        assert.deepEqual(await Deno.readFile(out), src, "written");
        await assert.rejects(ex.run(blocks[0], null), /closed/);
      } finally {
        c.source.close();
      }
    }),
});

Deno.test({
  name: "nativeExecutor: a corrupt chunk rejects; a replaced container file is refused",
  ignore: skip,
  fn: () =>
    withTempDir(async (dir) => {
      const src = model();
      const { path, bytes, index } = await packBytes(src, dir, { mode: "fast", chunkBytes: 16384 });
      const [offset, stored] = losslessOf(index.tensors[0]).chunks[2];
      const bad = bytes.slice();
      bad[offset + (stored >> 1)] ^= 0x08;
      await Deno.writeFile(`${dir}/bad.tsr`, bad);
      const c = await openContainerFile(`${dir}/bad.tsr`);
      try {
        const ex = nativeExecutor(c.backends, { input: c.source.file!, parallelism: 2 })!;
        const blocks = countedBlocks(originalPieces(c, await readOriginalHeader(c)));
        await expectContainerError(
          (async () => {
            for await (const _ of assemble(c, blocks, { executor: ex })) { /* drain */ }
          })(),
          "chunk_corrupt",
        );
        await ex.close();
      } finally {
        c.source.close();
      }
      const d = await openContainerFile(path);
      try {
        // Another file renamed over the path after the open: another inode.
        await Deno.writeFile(`${dir}/other.tsr`, bytes);
        await Deno.rename(`${dir}/other.tsr`, path);
        assert.throws(
          () => nativeExecutor(d.backends, { input: d.source.file!, parallelism: 2 }),
          /changed after it was opened/,
        );
      } finally {
        d.source.close();
      }
    }),
});
