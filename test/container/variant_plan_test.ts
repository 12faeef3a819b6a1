/**
 * Variants through the one planner and assembler: any byte range of a variant's file, and any
 * rectangle of any tensor under any variant, equals the same bytes of the fully dequantised body,
 * built here straight from the codec (every chunk, whole tensors) and checked against the digests
 * the index records; on this thread, on the decode pool, with and without the kernel, for a
 * container with the original and a variant-only one.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dtypeWidth } from "../../codec/dtype.ts";
import { matrixShape } from "../../codec/tiles.ts";
import { chunkEntry, decodeVariantChunk } from "../../codec/variants/chunk_decode.ts";
import { dequantiseRegion } from "../../codec/variants/dequantise.ts";
import { fromFloat32 } from "../../codec/variants/float.ts";
import { parseSpecList } from "../../codec/variants/spec.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { assemble, type BlockExecutor, blockRuns } from "../../src/container/assemble.ts";
import type { Backends } from "../../src/container/backends.ts";
import { deriveFile } from "../../src/pack/derive.ts";
import type { Container } from "../../src/container/open.ts";
import {
  payloadPiece,
  pieceLength,
  planBlocks,
  rectPiece,
  slicePieces,
  variantBandRows,
} from "../../src/container/plan.ts";
import { readOriginalHeader } from "../../src/container/read.ts";
import { lossyEncodingOf } from "../../src/container/variant_index.ts";
import { variantPieces } from "../../src/container/variant_read.ts";
import { portableBackends } from "../../src/container/portable_backends.ts";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { createDecodePool } from "../../src/threads/decode_pool.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors, type FixtureTensor } from "../safetensors/fixture.ts";
import {
  concat,
  cutRect,
  expectContainerError,
  openBytes,
  packBytes,
  withTempDir,
} from "../helpers/container.ts";

const SPECS = "int8:g32,ternary:2:greedy,svd:ratio=4,sparse:keep=0.5,fp16";
const EDGE_SPECS = "int8:g32,fp16";

function model(): Uint8Array {
  const rng = new Rng(5);
  const tensors: FixtureTensor[] = [];
  const add = (name: string, dtype: "BF16" | "F16" | "F32", shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = rng.normal() * 0.05;
    const data = new Uint8Array(n * dtypeWidth(dtype));
    fromFloat32(v, dtype, data);
    tensors.push({ name, dtype, shape, data });
  };
  add("l.0.wide", "BF16", [96, 640]); // int8:g32 cuts its view into column tiles
  add("l.0.norm", "F32", [64]); // a vector: no explicit variant applies
  add("l.1.conv", "F16", [32, 8, 3, 3]); // view 32 x 72, matrix 768 x 3
  add("l.1.big", "F32", [256, 512]); // blocks over 64 KiB of payload: decoded on workers
  tensors.push({ name: "l.1.codes", dtype: "I8", shape: [100], data: new Uint8Array(100) });
  return buildSafetensors(tensors, { note: "variant plan" });
}

interface Fixture {
  readonly c: Container;
  /** Per variant: the whole file, built from the codec directly. */
  readonly files: Map<string, Uint8Array>;
}

/** A variant's file built without the planner: every chunk decoded, each tensor whole. */
function referenceFile(c: Container, bytes: Uint8Array, src: Uint8Array, name: string): Uint8Array {
  const headerEnd = 8 + c.index.source.header.length;
  const parts = [src.subarray(0, headerEnd)];
  for (const t of c.index.tensors) {
    const e = lossyEncodingOf(t, name);
    if (!e) {
      parts.push(src.subarray(headerEnd + t.offsets[0], headerEnd + t.offsets[1]));
      continue;
    }
    const sections = e.chunks.map(([offset, stored], i) =>
      decodeVariantChunk(
        e,
        t.dtype,
        i,
        chunkEntry(e.chunks, i),
        bytes.subarray(offset, offset + stored),
      )
    );
    const [rows, cols] = matrixShape(t.shape);
    const out = new Uint8Array(t.offsets[1] - t.offsets[0]);
    dequantiseRegion(
      e,
      t.dtype,
      t.shape,
      { r0: 0, r1: rows, c0: 0, c1: cols },
      (i) => sections[i],
      out,
    );
    assert.equal(sha256Hex(out), e.sha256, `${name} ${t.name}`);
    parts.push(out);
  }
  const file = concat(parts);
  const v = c.index.variants!.find((x) => x.name === name)!;
  assert.equal(file.length, c.index.source.size);
  assert.equal(sha256Hex(file), v.sha256, `${name}: the variant's file digest`);
  return file;
}

async function fixture(dir: string, variantOnly: boolean, backends: Backends): Promise<Fixture> {
  const src = model();
  const { path } = await packBytes(src, dir, { mode: "fast", chunkBytes: 4096 }, "in.tsr");
  const out = `${dir}/${variantOnly ? "edge" : "all"}.tsr`;
  const specs = variantOnly ? EDGE_SPECS : SPECS;
  await deriveFile(path, out, { specs: parseSpecList(specs), variantOnly, chunkBytes: 4096 });
  const bytes = await Deno.readFile(out);
  const c = await openBytes(bytes, backends);
  const files = new Map<string, Uint8Array>();
  for (const name of specs.split(",")) files.set(name, referenceFile(c, bytes, src, name));
  return { c, files };
}

async function body(
  c: Container,
  name: string,
  start: number,
  end: number,
  blockBytes: number,
  executor?: BlockExecutor,
): Promise<Uint8Array> {
  const pieces = variantPieces(c, await readOriginalHeader(c), name);
  const parts: Uint8Array[] = [];
  const blocks = planBlocks(slicePieces(pieces, start, end), { blockBytes });
  for await (const p of assemble(c, blocks, { executor, recycle: true })) parts.push(p.slice());
  return concat(parts);
}

const ranges = (size: number) =>
  fc.tuple(fc.nat(size), fc.nat(size), fc.constantFrom(1, 3000, 65536, 1 << 20)).map((
    [a, b, blockBytes],
  ) => ({ start: Math.min(a, b), end: Math.max(a, b), blockBytes }));

for (const variantOnly of [false, true]) {
  const what = variantOnly ? "a variant-only container" : "a container with the original";
  Deno.test(`variant plan: any byte range of each variant's file, ${what}, here and on the pool`, async () => {
    const pool = createDecodePool(2, nativeBackends());
    try {
      await withTempDir(async (dir) => {
        const { c, files } = await fixture(dir, variantOnly, nativeBackends());
        for (const [name, file] of files) {
          // The whole file, in blocks small and large.
          for (const blockBytes of [1, 4096, 1 << 20]) {
            assert.deepEqual(await body(c, name, 0, file.length, blockBytes), file, name);
          }
          assert.deepEqual(await body(c, name, 0, file.length, 1 << 20, pool), file, name);
          for (const executor of [undefined, pool]) {
            await fc.assert(
              fc.asyncProperty(ranges(file.length), async ({ start, end, blockBytes }) => {
                const got = await body(c, name, start, end, blockBytes, executor);
                assert.deepEqual(got, file.subarray(start, end), `${name} [${start}, ${end})`);
              }),
              { numRuns: 25, seed: 17 },
            );
          }
        }
      });
    } finally {
      pool.close();
    }
  });
}

Deno.test("variant plan: any rectangle of any tensor equals the same rectangle of the whole, every backend", async () => {
  await withTempDir(async (dir) => {
    const native = nativeBackends();
    for (const backends of [native, { ...native, kernel: undefined }, portableBackends]) {
      const { c, files } = await fixture(dir, false, backends);
      const headerEnd = 8 + c.index.source.header.length;
      const matrices = c.index.tensors.filter((t) => t.shape.length > 0);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...files.keys()),
          fc.constantFrom(...matrices),
          fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat()),
          async (name, t, [a, b, x, y]) => {
            const [rows, cols] = matrixShape(t.shape), w = dtypeWidth(t.dtype);
            const r0 = a % rows, r1 = r0 + 1 + (b % (rows - r0));
            const c0 = x % cols, c1 = c0 + 1 + (y % (cols - c0));
            const rect = { r0, r1, c0, c1 };
            const whole = files.get(name)!.subarray(
              headerEnd + t.offsets[0],
              headerEnd + t.offsets[1],
            );
            const parts: Uint8Array[] = [];
            const blocks = planBlocks([rectPiece(t, rect, lossyEncodingOf(t, name))]);
            for await (const p of assemble(c, blocks)) parts.push(p.slice());
            assert.deepEqual(concat(parts), cutRect(whole, cols, w, rect), `${name} ${t.name}`);
          },
        ),
        { numRuns: 60, seed: 3 },
      );
    }
  });
});

Deno.test("variant plan: bands are whole tile rows of the view, and a block reads its chunks once", async () => {
  await withTempDir(async (dir) => {
    const { c } = await fixture(dir, false, nativeBackends());
    const conv = c.index.tensors.find((t) => t.name === "l.1.conv")!;
    const e = lossyEncodingOf(conv, "int8:g32")!;
    // A view row of 72 elements is 24 matrix rows of 3 (the band is capped at the 768 rows).
    assert.deepEqual(e.view, [32, 72]);
    assert.equal(variantBandRows(e, conv.shape), Math.min(768, e.tile[0] * 24));
    assert.equal(variantBandRows({ ...e, tile: [4, 72] }, conv.shape), 96);
    for (const t of c.index.tensors) {
      for (const name of SPECS.split(",")) {
        const v = lossyEncodingOf(t, name);
        if (!v) continue;
        const [rows, cols] = matrixShape(t.shape);
        const blocks = [...planBlocks([rectPiece(t, { r0: 0, r1: rows, c0: 0, c1: cols }, v)])];
        const used = new Map<number, number>();
        for (const b of blocks) {
          const inBlock = new Set(b.variants!.flatMap((j) => j.chunks.map((ch) => ch.index)));
          for (const i of inBlock) used.set(i, (used.get(i) ?? 0) + 1);
          // Every chunk a band needs is inside the runs the block reads.
          const runs = blockRuns(b, 0);
          for (const j of b.variants!) {
            for (const ch of j.chunks) {
              assert.ok(
                runs.some((r) => r.start <= ch.offset && ch.offset + ch.storedLength <= r.end),
              );
            }
          }
        }
        // Low rank's S and V serve every band; every other chunk belongs to one block.
        for (const [i, n] of used) {
          if (v.kind !== "lowrank") assert.equal(n, 1, `${name} ${t.name} chunk ${i}`);
        }
        assert.equal(used.size, v.chunks.length, `${name} ${t.name}: every chunk is read`);
      }
    }
  });
});

Deno.test("variant plan: a block's clone carries the layout, not the chunk table", async () => {
  await withTempDir(async (dir) => {
    const { c } = await fixture(dir, false, nativeBackends());
    const t = c.index.tensors.find((x) => x.name === "l.1.big")!;
    const e = lossyEncodingOf(t, "int8:g32")!;
    const [block] = planBlocks([rectPiece(t, { r0: 0, r1: 1, c0: 0, c1: 8 }, e)]);
    const job = block.variants![0];
    assert.deepEqual(Object.keys(job.layout).sort(), ["kind", "params", "tile", "view"]);
    assert.equal(job.chunks.length, 1);
    const clone = structuredClone(block);
    assert.deepEqual(clone, block);
    assert.ok(JSON.stringify(block).length < 1000, `${JSON.stringify(block).length} bytes`);
  });
});

Deno.test("variant plan: a corrupt variant chunk is a chunk_corrupt error naming it, here and on a worker", async () => {
  const pool = createDecodePool(1, nativeBackends());
  try {
    await withTempDir(async (dir) => {
      const { c } = await fixture(dir, false, nativeBackends());
      const t = c.index.tensors.find((x) => x.name === "l.1.big")!;
      const e = lossyEncodingOf(t, "int8:g32")!;
      const bytes = await c.source.readAt(0, c.source.size);
      const bad = bytes.slice();
      const [offset, stored] = e.chunks[0];
      bad[offset + stored - 3] ^= 0x10;
      const broken = await openBytes(bad);
      const [rows, cols] = matrixShape(t.shape);
      for (const executor of [undefined, pool]) {
        const blocks = planBlocks([rectPiece(t, { r0: 0, r1: rows, c0: 0, c1: cols }, e)]);
        const err = await expectContainerError(async () => {
          for await (const _ of assemble(broken, blocks, { executor })) { /* drain */ }
        }, "chunk_corrupt");
        assert.match(err.message, /"l\.1\.big" chunk 0/);
      }
    });
  } finally {
    pool.close();
  }
});

Deno.test("variant plan: any byte range of a variant's payloads equals the chunks' payloads, here and on the pool", async () => {
  const pool = createDecodePool(2, nativeBackends());
  try {
    await withTempDir(async (dir) => {
      const { c } = await fixture(dir, false, nativeBackends());
      const bytes = await c.source.readAt(0, c.source.size);
      for (const name of SPECS.split(",")) {
        for (const t of c.index.tensors) {
          const e = lossyEncodingOf(t, name);
          if (!e) continue;
          const payloads = concat(e.chunks.map(([offset, stored, raw], i) => {
            const parts = decodeVariantChunk(
              e,
              t.dtype,
              i,
              chunkEntry(e.chunks, i),
              bytes.subarray(offset, offset + stored),
            );
            return parts.length === 0 ? new Uint8Array(0) : new Uint8Array(
              parts[0].buffer,
              parts[0].byteOffset,
              raw,
            );
          }));
          const piece = payloadPiece(t, e);
          assert.equal(pieceLength(piece), payloads.length);
          // The pool for the matrix whose blocks are large enough to reach its workers.
          for (const executor of t.name === "l.1.big" ? [undefined, pool] : [undefined]) {
            await fc.assert(
              fc.asyncProperty(ranges(payloads.length), async ({ start, end, blockBytes }) => {
                const parts: Uint8Array[] = [];
                const blocks = planBlocks(slicePieces([piece], start, end), { blockBytes });
                for await (const p of assemble(c, blocks, { executor })) parts.push(p.slice());
                assert.deepEqual(concat(parts), payloads.subarray(start, end), `${name} ${t.name}`);
              }),
              { numRuns: 6, seed: 5 },
            );
          }
          // A tile's chunks, in chunk order, are the same bytes of each chunk.
          const some = [e.chunks.length - 1, 0];
          const parts: Uint8Array[] = [];
          for await (const p of assemble(c, planBlocks([payloadPiece(t, e, some)]))) {
            parts.push(p.slice());
          }
          const at = (i: number) => e.chunks.slice(0, i).reduce((n, ch) => n + ch[2], 0);
          const want = concat(some.map((i) => payloads.subarray(at(i), at(i) + e.chunks[i][2])));
          assert.deepEqual(concat(parts), want);
        }
      }
    });
  } finally {
    pool.close();
  }
});
