import assert from "node:assert/strict";
import { coalesce, contentRange, MAX_RANGES, parseRange } from "../../src/http/range.ts";

const ranges = (...r: [number, number][]) => ({
  kind: "ranges",
  ranges: r.map(([start, end]) => ({ start, end })),
});

Deno.test("parseRange: single, open-ended, suffix, clamped", () => {
  assert.deepEqual(parseRange("bytes=0-9", 100), ranges([0, 10]));
  assert.deepEqual(parseRange("bytes=90-", 100), ranges([90, 100]));
  assert.deepEqual(parseRange("bytes=-10", 100), ranges([90, 100]));
  assert.deepEqual(parseRange("bytes=-1000", 100), ranges([0, 100]));
  assert.deepEqual(parseRange("bytes=50-1000", 100), ranges([50, 100]));
  assert.deepEqual(parseRange("bytes=99-99", 100), ranges([99, 100]));
  assert.deepEqual(parseRange("bytes=0-99999999999999999999999", 100), ranges([0, 100]));
  assert.deepEqual(parseRange("Bytes = 1 - 2", 100), ranges([1, 3]));
});

Deno.test("parseRange: multiple ranges are sorted and coalesced when they overlap or touch", () => {
  assert.deepEqual(parseRange("bytes=20-29,0-9", 100), ranges([0, 10], [20, 30]));
  assert.deepEqual(parseRange("bytes=0-9,10-19", 100), ranges([0, 20]));
  assert.deepEqual(parseRange("bytes=0-50,10-20,-60", 100), ranges([0, 100]));
  assert.deepEqual(parseRange("bytes=0-1,,5-6, ,", 100), ranges([0, 2], [5, 7]));
  assert.deepEqual(coalesce([{ start: 5, end: 9 }, { start: 0, end: 6 }]), [{ start: 0, end: 9 }]);
});

Deno.test("parseRange: unsatisfiable ranges are dropped; none left is 416", () => {
  assert.deepEqual(parseRange("bytes=100-", 100), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=200-300", 100), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=-0", 100), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=0-0", 0), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=-5", 0), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=200-300,0-0", 100), ranges([0, 1]));
});

Deno.test("parseRange: absent, malformed or foreign-unit headers mean the full body", () => {
  for (
    const h of [
      null,
      undefined,
      "",
      "bytes",
      "bytes=",
      "bytes=a-b",
      "bytes=5-1",
      "items=0-1",
      "bytes=0-1-2",
      "bytes=--1",
      "bytes=1",
      "bytes=0x1-2",
      `bytes=${"0-1,".repeat(2000)}`,
    ]
  ) {
    assert.deepEqual(parseRange(h, 100), { kind: "full" }, String(h));
  }
});

Deno.test("parseRange: more than MAX_RANGES after coalescing means the full body", () => {
  const spec = (n: number) => Array.from({ length: n }, (_, i) => `${i * 3}-${i * 3}`).join(",");
  assert.equal(parseRange(`bytes=${spec(MAX_RANGES)}`, 1000).kind, "ranges");
  assert.deepEqual(parseRange(`bytes=${spec(MAX_RANGES + 1)}`, 1000), { kind: "full" });
  // Coalesced first: many overlapping ranges are one.
  const overlapping = Array.from({ length: 100 }, (_, i) => `${i}-${i + 5}`).join(",");
  assert.deepEqual(parseRange(`bytes=${overlapping}`, 1000), ranges([0, 105]));
});

Deno.test("contentRange formats inclusive ends", () => {
  assert.equal(contentRange({ start: 0, end: 10 }, 100), "bytes 0-9/100");
});
