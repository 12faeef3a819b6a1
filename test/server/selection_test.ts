import assert from "node:assert/strict";
import type { TensorEntry } from "../../src/container/index_schema.ts";
import { ContainerError } from "../../src/container/errors.ts";
import { selectTile } from "../../src/server/selection.ts";

function tensor(shape: number[], dtype: TensorEntry["dtype"] = "F32"): TensorEntry {
  const n = shape.reduce((a, b) => a * b, 1) * (dtype === "F32" ? 4 : 2);
  return {
    name: "t",
    dtype,
    shape,
    offsets: [0, n],
    layer: "t",
    sha256: "0".repeat(64),
    encodings: [{
      kind: "lossless",
      layout: { width: dtype === "F32" ? 4 : 2, signMoved: true },
      tile: [4, 4],
      chunks: [],
    }],
  } as TensorEntry;
}
const q = (s: string) => new URLSearchParams(s);

Deno.test("selectTile: rows/cols over the matrix view", () => {
  const s = selectTile(tensor([2, 3, 10]), q("rows=1:5&cols=-3:"))!;
  assert.deepEqual(s.rects, [{ r0: 1, r1: 5, c0: 7, c1: 10 }]);
  assert.deepEqual(s.shape, [4, 3]);
  assert.equal(s.size, 48);
  assert.equal(s.canonical, "rows=1:5&cols=7:10");
  assert.equal(selectTile(tensor([4, 4]), q("revision=main")), null);
});

Deno.test("selectTile: N-D slices become merged row runs", () => {
  // [2, 3, 4, 5]: rows are (i, j, k) flattened over 2*3*4 = 24, cols 5.
  const s = selectTile(tensor([2, 3, 4, 5]), q("slice=0:2,1:3,1:3,0:5"))!;
  assert.deepEqual(s.rects.map((r) => [r.r0, r.r1]), [[5, 7], [9, 11], [17, 19], [21, 23]]);
  assert.deepEqual(s.shape, [2, 2, 2, 5]);
  const whole = selectTile(tensor([2, 3, 4, 5]), q("slice=0:2,:,:,1:2"))!;
  assert.deepEqual(whole.rects, [{ r0: 0, r1: 24, c0: 1, c1: 2 }], "inner-whole runs merge");
  const short = selectTile(tensor([2, 3, 4]), q("slice=1"))!;
  assert.deepEqual(short.rects, [{ r0: 3, r1: 6, c0: 0, c1: 4 }]);
  assert.deepEqual(short.shape, [1, 3, 4]);
  const vec = selectTile(tensor([10]), q("slice=2:5"))!;
  assert.deepEqual(vec.rects, [{ r0: 0, r1: 1, c0: 2, c1: 5 }]);
  const scalar = selectTile(tensor([]), q("slice="))!;
  assert.deepEqual(scalar.rects, [{ r0: 0, r1: 1, c0: 0, c1: 1 }]);
  const empty = selectTile(tensor([4, 4]), q("slice=2:2"))!;
  assert.deepEqual(empty.rects, []);
  assert.equal(empty.size, 0);
});

Deno.test("selectTile: malformed selections are bad_slice", () => {
  const t = tensor([4, 4]);
  for (const s of ["rows=9", "rows=a", "slice=0:1,0:1,0:1", "rows=1:2&slice=0:1", "cols=3:1"]) {
    assert.throws(
      () => selectTile(t, q(s)),
      (e) => e instanceof ContainerError && e.kind === "bad_slice",
      s,
    );
  }
});

Deno.test("selectTile: every slice parameter matches its grammar exactly, else bad_slice naming it", () => {
  const t = tensor([4, 4]), t3 = tensor([2, 3, 4]);
  const bad = [
    "rows=0-5", // was read as row 0
    "rows=1 2", // was read as row 1
    "rows=1+2",
    "rows= 1:2",
    "rows=1:2 ",
    "cols=0:2:1",
    "cols=1:-",
    "rows=1&rows=2", // repeated: which one is meant?
    "slice=0:1,",
    "slice=,0:1",
    "slice=0:1;1:2",
    "slice= ",
    "slice=0-1,0:1",
    "slice=0:1&slice=0:1",
  ];
  for (const s of bad) {
    assert.throws(
      () => selectTile(s.startsWith("slice") ? t3 : t, q(s)),
      (e) =>
        e instanceof ContainerError && e.kind === "bad_slice" &&
        /\[-\]digits/.test(e.message),
      s,
    );
  }
  assert.deepEqual(selectTile(t, q("rows=001:0003&cols=-02:"))!.rects, [{
    r0: 1,
    r1: 3,
    c0: 2,
    c1: 4,
  }]);
  assert.deepEqual(selectTile(t3, q("slice=1,:,-1"))!.shape, [1, 3, 1]);
});
