/**
 * Pack → unpack must rebuild the original safetensors file byte for byte, for every dtype and
 * shape, both modes and any alignment; plus the real models under ../shared/data.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Dtype, DTYPES, dtypeWidth } from "../../codec/dtype.ts";
import { gridSize } from "../../codec/tiles.ts";
import { geometryOf, type Index, losslessOf } from "../../src/container/index_schema.ts";
import { readRegion } from "../../src/container/read.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { unpackFile } from "../../src/io/unpack_file.ts";
import { verifyContainer } from "../../src/container/verify.ts";
import { packFile } from "../../src/pack/write.ts";
import { sha256 as incrementalSha256 } from "../../src/hash/sha256.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors, type FixtureTensor } from "../safetensors/fixture.ts";
import {
  dtypeData,
  listDir,
  openBytes,
  packBytes,
  readOriginal,
  sha256,
  sourceTensorBytes,
  withTempDir,
} from "../helpers/container.ts";

/** Shapes every dtype is tried in: scalar, 1-D, 2-D many-tile, 3-D, 4-D and zero-size ones. */
const SHAPES: ReadonlyArray<[string, number[]]> = [
  ["scalar", []],
  ["vec:1", [37]],
  ["mat", [33, 70]],
  ["wide", [2, 700]],
  ["3d", [3, 5, 129]],
  ["4d", [2, 3, 4, 65]],
  ["empty0", [0]],
  ["empty_rows", [0, 3]],
  ["empty_cols", [4, 0]],
  ["empty_mid", [2, 0, 3]],
];

function everyDtypeFile(seed = 1): { bytes: Uint8Array; tensors: FixtureTensor[] } {
  const rng = new Rng(seed);
  const tensors: FixtureTensor[] = [];
  for (const dtype of DTYPES) {
    for (const [label, shape] of SHAPES) {
      const n = shape.reduce((a, b) => a * b, 1);
      tensors.push({ name: `${dtype}/${label}`, dtype, shape, data: dtypeData(dtype, n, rng) });
    }
  }
  // Names with separators and non-ASCII characters, including astral-plane ones.
  tensors.push({
    name: "模型.层.3.权重",
    dtype: "BF16",
    shape: [9, 17],
    data: dtypeData("BF16", 153, rng),
  });
  tensors.push({
    name: "enc/block:0/ÿ😀.weight",
    dtype: "F16",
    shape: [5],
    data: dtypeData("F16", 5, rng),
  });
  tensors.push({
    name: 'quote"back\\slash',
    dtype: "U8",
    shape: [3],
    data: Uint8Array.of(1, 2, 3),
  });
  const metadata = { format: "pt", "note/ü": "π ≈ 3.14159 😀", empty: "" };
  return { bytes: buildSafetensors(tensors, metadata), tensors };
}

async function assertSound(path: string, src: Uint8Array, index: Index): Promise<void> {
  const c = await openContainerFile(path);
  try {
    assert.deepEqual(c.index, index, "index read back equals the index written");
    assert.equal(c.index.source.size, src.length);
    assert.equal(c.index.source.sha256, sha256(src));
    const rebuilt = await readOriginal(c);
    assert.equal(sha256(rebuilt), sha256(src));
    assert.deepEqual(rebuilt, src);
    for (const t of c.index.tensors) {
      assert.deepEqual(await readRegion(c, t), sourceTensorBytes(src, index, t.name), t.name);
    }
    const report = await verifyContainer(c);
    assert.deepEqual(report.problems, []);
  } finally {
    c.source.close();
  }
}

function assertAligned(index: Index, alignment: number, fileSize: number): void {
  assert.equal(index.alignment, alignment);
  assert.equal(index.source.header.offset % alignment, 0);
  const spans: [number, number][] = [];
  for (const t of index.tensors) {
    const l = losslessOf(t);
    const [gr, gc] = gridSize(geometryOf(t));
    assert.equal(l.chunks.length, gr * gc, `${t.name}: one chunk per tile`);
    for (const [offset, stored] of l.chunks) {
      assert.equal(offset % alignment, 0, `${t.name}: chunk at ${offset} not ${alignment}-aligned`);
      assert.ok(offset + stored <= fileSize);
      spans.push([offset, offset + stored]);
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    assert.ok(spans[i][0] >= spans[i - 1][1], "chunks do not overlap");
  }
}

for (const mode of ["fast", "best"] as const) {
  for (const alignment of [1, 64, 4096]) {
    Deno.test(`roundtrip: every dtype and shape, mode ${mode}, alignment ${alignment}`, async () => {
      const { bytes: src, tensors } = everyDtypeFile();
      await withTempDir(async (dir) => {
        const { path, bytes, index } = await packBytes(src, dir, {
          mode,
          alignment,
          chunkBytes: 1024,
        });
        assert.equal(index.mode, mode);
        assert.equal(index.tensors.length, tensors.length);
        assert.deepEqual(index.metadata, { format: "pt", "note/ü": "π ≈ 3.14159 😀", empty: "" });
        assertAligned(index, alignment, bytes.length);
        // Small chunks: the 2-D tensors really are cut into many tiles.
        for (const dtype of DTYPES) {
          const mat = index.tensors.find((t) => t.name === `${dtype}/mat`)!;
          assert.ok(losslessOf(mat).chunks.length >= 3, `${dtype}/mat has several tiles`);
        }
        await assertSound(path, src, index);
        const out = `${dir}/rebuilt.safetensors`;
        const c = await openContainerFile(path);
        try {
          await unpackFile(c, out);
        } finally {
          c.source.close();
        }
        assert.equal(sha256(await Deno.readFile(out)), sha256(src));
        assert.deepEqual(listDir(dir), ["model.tsr", "rebuilt.safetensors"], "no temp files left");
      });
    });
  }
}

Deno.test("roundtrip: special float values survive bit for bit, one tensor per dtype", async () => {
  // A tensor made only of special patterns, so each plane holds them, not just a few of them.
  const rng = new Rng(7);
  const tensors: FixtureTensor[] = DTYPES.map((dtype) => ({
    name: `special.${dtype}`,
    dtype,
    shape: [4, 13],
    data: dtypeData(dtype, 52, rng),
  }));
  const src = buildSafetensors(tensors);
  await withTempDir(async (dir) => {
    for (const mode of ["fast", "best"] as const) {
      const { path, index } = await packBytes(src, dir, { mode, chunkBytes: 64 }, `${mode}.tsr`);
      await assertSound(path, src, index);
    }
  });
});

Deno.test("roundtrip: a file with no tensors, and one with only empty tensors", async () => {
  await withTempDir(async (dir) => {
    for (
      const [i, src] of [
        buildSafetensors([]),
        buildSafetensors([], { only: "metadata" }),
        buildSafetensors([
          { name: "a", dtype: "F32", shape: [0] },
          { name: "b", dtype: "BF16", shape: [3, 0] },
        ]),
      ].entries()
    ) {
      const { path, index } = await packBytes(src, dir, {}, `${i}.tsr`);
      await assertSound(path, src, index);
    }
  });
});

Deno.test("roundtrip: header padding and unusual header layouts are kept verbatim", async () => {
  const t: FixtureTensor[] = [{ name: "w", dtype: "F32", shape: [3, 3] }];
  await withTempDir(async (dir) => {
    for (
      const [i, src] of [
        buildSafetensors(t, undefined, { align: 1 }),
        buildSafetensors(t, undefined, { align: 8, extraSpaces: 37 }),
        buildSafetensors(t, undefined, { align: 4096 }),
      ].entries()
    ) {
      const { path, index } = await packBytes(src, dir, {}, `${i}.tsr`);
      await assertSound(path, src, index);
    }
  });
});

// ---- property test over random small tensors ------------------------------------------------

const tensorArb = fc.record({
  dtype: fc.constantFrom(...DTYPES),
  shape: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 4 }),
  kind: fc.constantFrom("random", "lowEntropy", "constant", "special"),
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
});

function arbData(
  t: { dtype: Dtype; shape: number[]; kind: string; seed: number },
): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1) * dtypeWidth(t.dtype);
  const rng = new Rng(t.seed);
  switch (t.kind) {
    case "random":
      return rng.bytes(n);
    case "lowEntropy":
      return Uint8Array.from({ length: n }, () => [0, 1, 0x3c, 0xff][rng.int(4)]);
    case "constant":
      return new Uint8Array(n).fill(t.seed & 0xff);
    default:
      return dtypeData(t.dtype, n / dtypeWidth(t.dtype), rng);
  }
}

Deno.test("roundtrip property: random small tensors, modes, alignments, chunk sizes", async () => {
  await withTempDir(async (dir) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(tensorArb, { maxLength: 6 }),
        fc.constantFrom("fast" as const, "best" as const),
        fc.constantFrom(1, 8, 64, 128, 4096),
        fc.constantFrom(64, 100, 256, 1024, 1 << 18),
        fc.option(fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), { nil: undefined }),
        async (specs, mode, alignment, chunkBytes, metadata) => {
          const tensors = specs.map((s, i) => ({
            name: `layers.${i}.t${s.kind}`,
            dtype: s.dtype,
            shape: s.shape,
            data: arbData(s),
          }));
          const src = buildSafetensors(tensors, metadata);
          const name = `p${run++}.tsr`;
          const { bytes, index } = await packBytes(src, dir, { mode, alignment, chunkBytes }, name);
          await Deno.remove(`${dir}/${name}`);
          assertAligned(index, alignment, bytes.length);
          const c = await openBytes(bytes);
          const rebuilt = await readOriginal(c);
          assert.equal(sha256(rebuilt), sha256(src));
          for (const t of c.index.tensors) {
            assert.deepEqual(await readRegion(c, t), sourceTensorBytes(src, index, t.name));
          }
        },
      ),
      { numRuns: 60, seed: 0x7e55e4a },
    );
    assert.deepEqual(listDir(dir), []);
  });
});

// ---- the real models -------------------------------------------------------------------------

const DATA_DIR = new URL("../../../shared/data/", import.meta.url);
const realFiles: string[] = (() => {
  try {
    return [...Deno.readDirSync(DATA_DIR)]
      .map((e) => e.name)
      .filter((n) => n.endsWith(".safetensors"))
      .sort();
  } catch {
    return [];
  }
})();
if (realFiles.length === 0) {
  console.log(`note: ${DATA_DIR.pathname} is missing; skipping the real-data round trips`);
}

async function fileSha256(path: string): Promise<string> {
  const h = incrementalSha256();
  using f = await Deno.open(path);
  for await (const block of f.readable) h.update(block);
  return h.hex();
}

const sourceDigests = new Map<string, Promise<string>>();

for (const file of realFiles) {
  for (const mode of ["fast", "best"] as const) {
    Deno.test(`roundtrip real data: ${file} (${mode})`, async () => {
      const input = new URL(file, DATA_DIR).pathname;
      if (!sourceDigests.has(file)) sourceDigests.set(file, fileSha256(input));
      await withTempDir(async (dir) => {
        const tsr = `${dir}/${file}.tsr`, out = `${dir}/${file}`;
        const index = await packFile(input, tsr, { mode });
        const expected = await sourceDigests.get(file)!;
        assert.equal(index.source.sha256, expected);
        assert.ok((await Deno.stat(tsr)).size < index.source.size, "the container is smaller");
        const c = await openContainerFile(tsr);
        try {
          await unpackFile(c, out);
          const report = await verifyContainer(c);
          assert.deepEqual(report.problems, []);
          assert.equal(report.tensors, index.tensors.length);
        } finally {
          c.source.close();
        }
        assert.equal(await fileSha256(out), expected);
        assert.equal((await Deno.stat(out)).size, index.source.size);
      });
    });
  }
}

Deno.test("roundtrip: a tensor whose tile bands exceed 32 MiB is read tile by tile", async () => {
  // Two rows of 16.8 MB: one band of tiles is larger than the writer's 32 MiB band buffer.
  const cols = 16_800_000;
  const data = new Uint8Array(2 * cols);
  const rng = new Rng(3);
  for (let i = 0; i < data.length; i += 4096) data.set(rng.bytes(64), i);
  for (let i = 0; i < data.length; i += 97) data[i] = i & 0xff;
  const src = buildSafetensors([
    { name: "small", dtype: "F32", shape: [3], data: new Uint8Array(12).fill(7) },
    { name: "wide", dtype: "U8", shape: [2, cols], data },
  ]);
  await withTempDir(async (dir) => {
    const input = `${dir}/wide.safetensors`;
    await Deno.writeFile(input, src);
    const index = await packFile(input, `${dir}/wide.tsr`, { mode: "fast", chunkBytes: 1 << 20 });
    const wide = index.tensors.find((t) => t.name === "wide")!;
    const g = geometryOf(wide);
    assert.ok(g.tileRows * g.cols > 32 << 20, JSON.stringify(g));
    assert.ok(g.tileCols < g.cols);
    const c = await openContainerFile(`${dir}/wide.tsr`);
    try {
      assert.equal(sha256(await readOriginal(c)), sha256(src));
      const rect = { r0: 0, r1: 2, c0: cols - 3_000_123, c1: cols - 5 };
      const got = await readRegion(c, c.tensors.get("wide")!, rect);
      assert.deepEqual(got.subarray(0, rect.c1 - rect.c0), data.subarray(rect.c0, rect.c1));
      assert.deepEqual(
        got.subarray(rect.c1 - rect.c0),
        data.subarray(cols + rect.c0, cols + rect.c1),
      );
    } finally {
      c.source.close();
    }
  });
});
