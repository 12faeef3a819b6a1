/**
 * unpackFile: byte-identical with decode workers (which write the blocks they decode into the
 * temporary file, and, for a container file, read their stored bytes from it themselves) and
 * without; a corrupt chunk leaves no file behind either way.
 */
import assert from "node:assert/strict";
import { losslessOf } from "../../src/container/index_schema.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { unpackFile } from "../../src/io/unpack_file.ts";
import { startDecodeWorkers } from "../../src/threads/decode_pool.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import {
  dtypeData,
  expectContainerError,
  listDir,
  openBytes,
  packBytes,
  withTempDir,
} from "../helpers/container.ts";

function model(): Uint8Array {
  const rng = new Rng(8);
  return buildSafetensors([
    { name: "a", dtype: "BF16", shape: [300, 700], data: dtypeData("BF16", 210000, rng) },
    { name: "b", dtype: "F32", shape: [64], data: dtypeData("F32", 64, rng) },
    { name: "c", dtype: "F16", shape: [200, 300], data: dtypeData("F16", 60000, rng) },
  ]);
}

Deno.test("unpackFile: byte-identical with and without decode workers", () =>
  withTempDir(async (dir) => {
    const src = model();
    const { bytes } = await packBytes(src, dir, { mode: "fast", chunkBytes: 16384 });
    for (const workers of [0, 2]) {
      const c = await openBytes(bytes);
      await unpackFile(c, `${dir}/out${workers}.safetensors`, { workers });
      assert.deepEqual(await Deno.readFile(`${dir}/out${workers}.safetensors`), src, `${workers}`);
    }
  }));

Deno.test("unpackFile: a corrupt chunk fails and leaves nothing, with and without workers", () =>
  withTempDir(async (dir) => {
    const src = model();
    const { bytes, index } = await packBytes(src, dir, { mode: "fast", chunkBytes: 16384 });
    const [offset, stored] = losslessOf(index.tensors[0]).chunks[5];
    const bad = bytes.slice();
    bad[offset + (stored >> 1)] ^= 0x10;
    await Deno.mkdir(`${dir}/out`);
    for (const workers of [0, 2]) {
      await expectContainerError(
        unpackFile(await openBytes(bad), `${dir}/out/m.safetensors`, { workers }),
        "chunk_corrupt",
      );
      assert.deepEqual(listDir(`${dir}/out`), [], `${workers} workers`);
    }
  }));

Deno.test("unpackFile: workers that read the container file themselves, started before the open", () =>
  withTempDir(async (dir) => {
    const src = model();
    const { path, bytes, index } = await packBytes(src, dir, { mode: "fast", chunkBytes: 16384 });
    for (const workers of [2, startDecodeWorkers(2)]) {
      const c = await openContainerFile(path);
      try {
        assert.equal(c.source.file?.path, path);
        await unpackFile(c, `${dir}/out.safetensors`, { workers });
      } finally {
        c.source.close();
      }
      assert.deepEqual(await Deno.readFile(`${dir}/out.safetensors`), src);
    }
    const [offset, stored] = losslessOf(index.tensors[2]).chunks[1];
    const bad = bytes.slice();
    bad[offset + (stored >> 1)] ^= 0x04;
    await Deno.writeFile(`${dir}/bad.tsr`, bad);
    await Deno.mkdir(`${dir}/out`);
    const c = await openContainerFile(`${dir}/bad.tsr`);
    try {
      await expectContainerError(
        unpackFile(c, `${dir}/out/m.safetensors`, { workers: startDecodeWorkers(2) }),
        "chunk_corrupt",
      );
    } finally {
      c.source.close();
    }
    assert.deepEqual(listDir(`${dir}/out`), []);
  }));

Deno.test("unpackFile: aborted after its first block, it leaves nothing, on every executor", () =>
  withTempDir(async (dir) => {
    // Four blocks of about 1 MiB.
    const src = buildSafetensors([
      {
        name: "w",
        dtype: "BF16",
        shape: [1024, 2048],
        data: dtypeData("BF16", 1 << 21, new Rng(9)),
      },
    ]);
    const { path } = await packBytes(src, dir, { mode: "fast", chunkBytes: 16384 });
    await Deno.mkdir(`${dir}/out`);
    // 2: the native unpack where it runs (the decode workers elsewhere); started workers; none.
    for (const workers of [2, startDecodeWorkers(2), 0]) {
      const c = await openContainerFile(path);
      const stop = new AbortController();
      try {
        await assert.rejects(
          unpackFile(c, `${dir}/out/m.safetensors`, {
            workers,
            signal: stop.signal,
            onBytes: () => stop.abort(new Error("stopped")),
          }),
          /stopped/,
        );
      } finally {
        c.source.close();
      }
      assert.deepEqual(listDir(`${dir}/out`), [], `${typeof workers} ${workers}`);
    }
  }));
