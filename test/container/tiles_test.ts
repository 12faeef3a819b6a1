/**
 * Tiled random access: any row/column slice read through the container equals the slice cut from
 * the original bytes, shards decode at most twice what they return, and the tile/slice helpers.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { DTYPES, dtypeWidth } from "../../codec/dtype.ts";
import {
  chooseTiles,
  gridSize,
  matrixShape,
  type Rect,
  type TileGeometry,
  tileRect,
  tilesCovering,
} from "../../codec/tiles.ts";
import { DEFAULT_CHUNK_BYTES } from "../../src/container/format.ts";
import { geometryOf } from "../../src/container/index_schema.ts";
import { readRegion, type ReadStats, streamRegion, tensorOf } from "../../src/container/read.ts";
import { parseSlice } from "../../src/container/slice.ts";
import { normalBf16, Rng } from "../codec/prng.ts";
import { buildSafetensors, type FixtureTensor } from "../safetensors/fixture.ts";
import {
  concat,
  cutRect,
  dtypeData,
  expectContainerError,
  isContainerError,
  openBytes,
  packBytes,
  sourceTensorBytes,
  withTempDir,
} from "../helpers/container.ts";

// ---- readRegion against slices of the original -----------------------------------------------

Deno.test("readRegion: random row/col slices equal the slice cut from the original", async () => {
  const rng = new Rng(42);
  const shapes: number[][] = [[], [1], [50], [37, 91], [3, 7, 45], [2, 3, 5, 33], [200, 3]];
  const tensors: FixtureTensor[] = [];
  for (const dtype of ["U8", "BF16", "F32", "F64", "I16"] as const) {
    for (const [i, shape] of shapes.entries()) {
      const n = shape.reduce((a, b) => a * b, 1);
      tensors.push({ name: `${dtype}.${i}`, dtype, shape, data: dtypeData(dtype, n, rng) });
    }
  }
  const src = buildSafetensors(tensors);
  await withTempDir(async (dir) => {
    const { bytes, index } = await packBytes(src, dir, { chunkBytes: 512, mode: "fast" });
    const c = await openBytes(bytes);
    let checked = 0;
    for (const t of c.index.tensors) {
      const g = geometryOf(t);
      const [rows, cols] = matrixShape(t.shape);
      assert.deepEqual([g.rows, g.cols], [rows, cols]);
      const data = sourceTensorBytes(src, index, t.name);
      const rects: Rect[] = [
        { r0: 0, r1: rows, c0: 0, c1: cols },
        { r0: 0, r1: 0, c0: 0, c1: cols },
        { r0: rows, r1: rows, c0: 0, c1: cols },
        { r0: 0, r1: rows, c0: cols, c1: cols },
      ];
      for (let k = 0; k < 25; k++) {
        const a = rng.int(rows + 1), b = rng.int(rows + 1);
        const x = rng.int(cols + 1), y = rng.int(cols + 1);
        rects.push({
          r0: Math.min(a, b),
          r1: Math.max(a, b),
          c0: Math.min(x, y),
          c1: Math.max(x, y),
        });
        // Whole rows, and single rows, take the no-copy paths.
        rects.push({ r0: Math.min(a, b), r1: Math.max(a, b), c0: 0, c1: cols });
        if (rows > 0) {
          const r = rng.int(rows);
          rects.push({ r0: r, r1: r + 1, c0: 0, c1: cols });
        }
      }
      for (const rect of rects) {
        const expected = cutRect(data, cols, g.width, rect);
        const got = await readRegion(c, t, rect);
        assert.deepEqual(got, expected, `${t.name} ${JSON.stringify(rect)}`);
        const parts: Uint8Array[] = [];
        for await (const p of streamRegion(c, t, rect)) parts.push(p.slice());
        assert.deepEqual(concat(parts), expected, `stream ${t.name} ${JSON.stringify(rect)}`);
        checked++;
      }
    }
    assert.ok(checked > 1000);
  });
});

Deno.test("readRegion: property over random tensors, chunk sizes and rectangles", async () => {
  await withTempDir(async (dir) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...DTYPES),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 3 }),
        fc.constantFrom(64, 200, 1024),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat()), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 0x7fffffff }),
        async (dtype, shape, chunkBytes, picks, seed) => {
          const n = shape.reduce((a, b) => a * b, 1);
          const src = buildSafetensors([
            { name: "t", dtype, shape, data: dtypeData(dtype, n, new Rng(seed)) },
          ]);
          const name = `r${run++}.tsr`;
          const { bytes, index } = await packBytes(src, dir, { chunkBytes, mode: "fast" }, name);
          await Deno.remove(`${dir}/${name}`);
          const c = await openBytes(bytes);
          const t = tensorOf(c, "t");
          const [rows, cols] = matrixShape(shape);
          const data = sourceTensorBytes(src, index, "t");
          for (const [a, b, x, y] of picks) {
            const ra = a % (rows + 1),
              rb = b % (rows + 1),
              ca = x % (cols + 1),
              cb = y % (cols + 1);
            const rect = {
              r0: Math.min(ra, rb),
              r1: Math.max(ra, rb),
              c0: Math.min(ca, cb),
              c1: Math.max(ca, cb),
            };
            assert.deepEqual(
              await readRegion(c, t, rect),
              cutRect(data, cols, dtypeWidth(dtype), rect),
            );
          }
        },
      ),
      { numRuns: 60, seed: 0x711e5 },
    );
  });
});

async function badRects(rects: Rect[], read: "stream" | "region"): Promise<void> {
  const src = buildSafetensors([{ name: "w", dtype: "F32", shape: [6, 10] }]);
  await withTempDir(async (dir) => {
    const { bytes } = await packBytes(src, dir, { chunkBytes: 64 });
    const c = await openBytes(bytes);
    const t = tensorOf(c, "w");
    for (const rect of rects) {
      await expectContainerError(async () => {
        if (read === "region") await readRegion(c, t, rect);
        else for await (const _ of streamRegion(c, t, rect)) { /* drain */ }
      }, "bad_slice");
    }
    assert.throws(() => tensorOf(c, "nope"), isContainerError("tensor_not_found"));
  });
}

const OUTSIDE: Rect[] = [
  { r0: 0, r1: 7, c0: 0, c1: 10 },
  { r0: 0, r1: 6, c0: 0, c1: 11 },
  { r0: -1, r1: 2, c0: 0, c1: 1 },
  { r0: 0, r1: 1, c0: -2, c1: 1 },
];
const INVERTED: Rect[] = [
  { r0: 0, r1: 1e9, c0: 0, c1: 10 },
  { r0: 3, r1: 2, c0: 0, c1: 1 },
  { r0: 0, r1: 1, c0: 5, c1: 4 },
];

Deno.test("readRegion: rectangles outside the tensor are bad_slice, unknown names tensor_not_found", async () => {
  await badRects(OUTSIDE, "region");
  await badRects([...OUTSIDE, ...INVERTED], "stream");
});

Deno.test({
  name: "readRegion: inverted or huge rectangles are bad_slice",
  fn: () => badRects(INVERTED, "region"),
});

// ---- the decoded-bytes bound for shards ------------------------------------------------------

Deno.test("readRegion: 1/8 row and column shards of a 4096x4096 BF16 decode at most 2x", async () => {
  const N = 4096;
  const data = normalBf16(new Rng(4096), N * N);
  const src = buildSafetensors([{
    name: "model.layers.0.mlp.up_proj.weight",
    dtype: "BF16",
    shape: [N, N],
    data,
  }]);
  await withTempDir(async (dir) => {
    const { bytes, index } = await packBytes(src, dir, { mode: "fast" });
    assert.equal(index.chunkBytes, DEFAULT_CHUNK_BYTES);
    const c = await openBytes(bytes);
    const t = c.index.tensors[0];
    const g = geometryOf(t);
    assert.equal(N % g.tileCols, 0, "power-of-two tile width divides the matrix");
    const shard = N / 8;
    const rects: [string, Rect][] = [];
    for (let k = 0; k < 8; k++) {
      const lo = k * shard, hi = (k + 1) * shard;
      rects.push([`rows ${k}`, { r0: lo, r1: hi, c0: 0, c1: N }]);
      rects.push([`cols ${k}`, { r0: 0, r1: N, c0: lo, c1: hi }]);
      // Unaligned by a few rows/cols, shifted back in for the last shard.
      const off = k < 7 ? 3 + k : -5;
      rects.push([`rows ${k}${off >= 0 ? "+" : ""}${off}`, {
        r0: lo + off,
        r1: hi + off,
        c0: 0,
        c1: N,
      }]);
      rects.push([`cols ${k}${off >= 0 ? "+" : ""}${off}`, {
        r0: 0,
        r1: N,
        c0: lo + off,
        c1: hi + off,
      }]);
    }
    for (const [label, rect] of rects) {
      const stats: ReadStats = { decodedBytes: 0, chunks: 0 };
      const got = await readRegion(c, t, rect, { stats });
      const want = (rect.r1 - rect.r0) * (rect.c1 - rect.c0) * 2;
      assert.equal(got.length, want);
      assert.ok(
        stats.decodedBytes <= 2 * got.length,
        `${label}: decoded ${stats.decodedBytes} bytes to return ${got.length}`,
      );
      assert.equal(stats.chunks, tilesCovering(g, rect).length);
      // Spot-check content on a few rows rather than cutting 4 MiB slices 32 times.
      for (const r of [rect.r0, (rect.r0 + rect.r1) >> 1, rect.r1 - 1]) {
        const rowLen = (rect.c1 - rect.c0) * 2, i = r - rect.r0;
        assert.deepEqual(
          got.subarray(i * rowLen, (i + 1) * rowLen),
          data.subarray((r * N + rect.c0) * 2, (r * N + rect.c1) * 2),
          `${label} row ${r}`,
        );
      }
    }
    // And one full, exact comparison of an unaligned shard.
    const rect = { r0: 7, r1: 519, c0: 1029, c1: 1541 };
    assert.deepEqual(await readRegion(c, t, rect), cutRect(data, N, 2, rect));
  });
});

// ---- parseSlice ------------------------------------------------------------------------------

Deno.test("parseSlice: a:b, a:, :b, :, single index and negatives", () => {
  assert.deepEqual(parseSlice("2:5", 10), [2, 5]);
  assert.deepEqual(parseSlice("002:05", 10), [2, 5]);
  assert.deepEqual(parseSlice("3:", 10), [3, 10]);
  assert.deepEqual(parseSlice(":4", 10), [0, 4]);
  assert.deepEqual(parseSlice(":", 10), [0, 10]);
  assert.deepEqual(parseSlice("7", 10), [7, 8]);
  assert.deepEqual(parseSlice("0", 1), [0, 1]);
  assert.deepEqual(parseSlice("-1", 10), [9, 10]);
  assert.deepEqual(parseSlice("-3:", 10), [7, 10]);
  assert.deepEqual(parseSlice(":-2", 10), [0, 8]);
  assert.deepEqual(parseSlice("-4:-1", 10), [6, 9]);
  assert.deepEqual(parseSlice("10:10", 10), [10, 10]);
  assert.deepEqual(parseSlice("4:4", 10), [4, 4]);
  assert.deepEqual(parseSlice(":", 0), [0, 0]);
  assert.deepEqual(parseSlice("-10:", 10), [0, 10]);
});

Deno.test("parseSlice: malformed or out-of-range slices are bad_slice", () => {
  for (
    const [text, size] of [
      ["", 10],
      ["  ", 10],
      ["a:b", 10],
      ["1:2:3", 10],
      ["1.5", 10],
      ["1:2.5", 10],
      ["0x2:4", 10],
      ["1e3", 10000],
      ["+1", 10],
      ["--1", 10],
      ["5:3", 10],
      ["0:11", 10],
      ["10", 10],
      ["-11", 10],
      ["-11:", 10],
      [":-11", 10],
      ["0", 0],
      ["99999999999999999999", 10],
      ["1;2", 10],
      [" 2 : 5 ", 10],
      ["0-5", 10],
      ["1 2", 10],
    ] as const
  ) {
    assert.throws(() => parseSlice(text, size), isContainerError("bad_slice"), `"${text}"`);
  }
  assert.throws(() => parseSlice("20", 10, "--rows"), /--rows/);
});

// ---- tile geometry ---------------------------------------------------------------------------

Deno.test("chooseTiles: whole rows when narrow, square-ish power-of-two tiles when wide", () => {
  // 4096x4096 BF16 at 256 KiB: 131072 elements per tile, 512 wide, 256 tall.
  assert.deepEqual(chooseTiles([4096, 4096], 2, 256 * 1024), {
    rows: 4096,
    cols: 4096,
    width: 2,
    tileRows: 256,
    tileCols: 512,
  });
  // Narrow rows: whole rows per tile.
  const narrow = chooseTiles([1000, 8], 4, 1024);
  assert.equal(narrow.tileCols, 8);
  assert.equal(narrow.tileRows, 32);
  // Scalars and vectors are one-row matrices.
  assert.deepEqual(matrixShape([]), [1, 1]);
  assert.deepEqual(matrixShape([7]), [1, 7]);
  assert.deepEqual(matrixShape([2, 3, 4]), [6, 4]);
  assert.deepEqual(chooseTiles([], 8, 1024), {
    rows: 1,
    cols: 1,
    width: 8,
    tileRows: 128,
    tileCols: 1,
  });
  // A wide vector: few rows, so tiles widen to keep about chunkBytes each.
  const vec = chooseTiles([100000], 2, 1024);
  assert.equal(vec.tileRows, 1);
  assert.ok(vec.tileCols * 2 <= 1024 && vec.tileCols * 2 >= 512, JSON.stringify(vec));
  // Tile width is a power of two whenever the matrix is wider than one tile.
  for (const [shape, width, chunk] of [[[768, 3072], 2, 262144], [[50, 5000], 4, 4096]] as const) {
    const g = chooseTiles(shape, width, chunk);
    if (g.tileCols < g.cols) assert.equal(g.tileCols & (g.tileCols - 1), 0);
    assert.ok(g.tileRows * g.tileCols * width <= 2 * chunk, JSON.stringify(g));
  }
  assert.deepEqual(gridSize(chooseTiles([0, 5], 4, 1024)), [0, 0]);
  assert.deepEqual(gridSize(chooseTiles([5, 0], 4, 1024)), [0, 0]);
});

function brute(g: TileGeometry, rect: Rect): number[] {
  const [gr, gc] = gridSize(g);
  const out: number[] = [];
  if (rect.r0 >= rect.r1 || rect.c0 >= rect.c1) return out;
  for (let i = 0; i < gr * gc; i++) {
    const t = tileRect(g, i);
    if (t.r0 < rect.r1 && rect.r0 < t.r1 && t.c0 < rect.c1 && rect.c0 < t.c1) out.push(i);
  }
  return out;
}

Deno.test("tilesCovering: basic cases", () => {
  const g: TileGeometry = { rows: 10, cols: 10, width: 1, tileRows: 4, tileCols: 3 };
  assert.deepEqual(gridSize(g), [3, 4]);
  assert.deepEqual(tileRect(g, 0), { r0: 0, r1: 4, c0: 0, c1: 3 });
  assert.deepEqual(tileRect(g, 11), { r0: 8, r1: 10, c0: 9, c1: 10 });
  assert.deepEqual(tilesCovering(g, { r0: 0, r1: 10, c0: 0, c1: 10 }), [...Array(12).keys()]);
  assert.deepEqual(tilesCovering(g, { r0: 0, r1: 1, c0: 0, c1: 1 }), [0]);
  assert.deepEqual(tilesCovering(g, { r0: 3, r1: 5, c0: 2, c1: 4 }), [0, 1, 4, 5]);
  assert.deepEqual(tilesCovering(g, { r0: 4, r1: 8, c0: 3, c1: 6 }), [5]);
  assert.deepEqual(tilesCovering(g, { r0: 5, r1: 5, c0: 0, c1: 10 }), []);
  assert.deepEqual(tilesCovering(g, { r0: 0, r1: 10, c0: 7, c1: 7 }), []);
});

Deno.test("tiles property: tiles partition the matrix and tilesCovering matches brute force", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 1, max: 70 }),
      fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat()),
      (rows, cols, tileRows, tileCols, [a, b, x, y]) => {
        const g: TileGeometry = { rows, cols, width: 1, tileRows, tileCols };
        const [gr, gc] = gridSize(g);
        const seen = new Uint8Array(rows * cols);
        for (let i = 0; i < gr * gc; i++) {
          const t = tileRect(g, i);
          assert.ok(t.r0 < t.r1 && t.c0 < t.c1, "no empty tile");
          for (let r = t.r0; r < t.r1; r++) for (let c = t.c0; c < t.c1; c++) seen[r * cols + c]++;
        }
        assert.ok(seen.every((v) => v === 1), "every cell in exactly one tile");
        const ra = a % (rows + 1), rb = b % (rows + 1), ca = x % (cols + 1), cb = y % (cols + 1);
        const rect = {
          r0: Math.min(ra, rb),
          r1: Math.max(ra, rb),
          c0: Math.min(ca, cb),
          c1: Math.max(ca, cb),
        };
        assert.deepEqual(tilesCovering(g, rect), brute(g, rect));
      },
    ),
    { numRuns: 300, seed: 0x7117 },
  );
});

Deno.test("chooseTiles property: tiles hold about chunkBytes and at least one element", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 0, maxLength: 3 }),
      fc.constantFrom(1, 2, 4, 8),
      fc.constantFrom(64, 1000, 4096, 262144),
      (shape, width, chunkBytes) => {
        const g = chooseTiles(shape, width, chunkBytes);
        const [rows, cols] = matrixShape(shape);
        assert.deepEqual([g.rows, g.cols, g.width], [rows, cols, width]);
        assert.ok(g.tileRows >= 1 && g.tileCols >= 1, JSON.stringify(g));
        const rTile = Math.min(g.tileRows, rows), cTile = Math.min(g.tileCols, cols);
        assert.ok(
          rTile * cTile * width <= Math.max(2 * chunkBytes, width * cTile),
          JSON.stringify(g),
        );
      },
    ),
    { numRuns: 300, seed: 0xc4 },
  );
});

Deno.test("readRegion: concurrent reads on one container do not disturb each other", async () => {
  const rng = new Rng(11);
  const tensors: FixtureTensor[] = (["BF16", "F32", "F16", "F64", "U8"] as const).map((
    dtype,
    i,
  ) => ({
    name: `t${i}`,
    dtype,
    shape: [37, 53],
    data: dtypeData(dtype, 37 * 53, rng),
  }));
  const src = buildSafetensors(tensors);
  await withTempDir(async (dir) => {
    const { bytes, index } = await packBytes(src, dir, { chunkBytes: 256, mode: "best" });
    const c = await openBytes(bytes);
    const jobs: Promise<void>[] = [];
    for (let k = 0; k < 200; k++) {
      const t = c.index.tensors[k % tensors.length];
      const g = geometryOf(t);
      const a = rng.int(g.rows), b = rng.int(g.rows), x = rng.int(g.cols), y = rng.int(g.cols);
      const rect = {
        r0: Math.min(a, b),
        r1: Math.max(a, b) + 1,
        c0: Math.min(x, y),
        c1: Math.max(x, y) + 1,
      };
      const want = cutRect(sourceTensorBytes(src, index, t.name), g.cols, g.width, rect);
      jobs.push(readRegion(c, t, rect).then((got) => assert.deepEqual(got, want)));
    }
    await Promise.all(jobs);
  });
});
