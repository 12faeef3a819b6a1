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

Deno.test("parseRange: numbers are digits, leading zeros allowed; past 2^53 is past any end", () => {
  // RFC 9110 §14.1.1: first-pos and last-pos are 1*DIGIT, so any number of leading zeros is valid.
  assert.deepEqual(parseRange("bytes=0000000000000000000000000000005-", 100), ranges([5, 100]));
  assert.deepEqual(parseRange("bytes=00-0000000000000000000000009", 100), ranges([0, 10]));
  assert.deepEqual(parseRange("bytes=-0000000000000000000000000000003", 100), ranges([97, 100]));
  assert.deepEqual(parseRange("bytes=0000000000000000000000000000000-", 100), ranges([0, 100]));
  assert.deepEqual(parseRange("bytes=-0000000000000000000000000000000", 100), {
    kind: "unsatisfiable",
  });
  // 16 digits below 2^53 are exact, not rounded to "past the end".
  const big = 2 ** 53 - 1;
  assert.deepEqual(parseRange("bytes=1000000000000000-", 1e15 + 10), ranges([1e15, 1e15 + 10]));
  assert.deepEqual(parseRange(`bytes=${big - 1}-`, big), ranges([big - 1, big]));
  for (const first of ["9007199254740992", "9007199254740993", "1" + "0".repeat(40)]) {
    assert.deepEqual(parseRange(`bytes=${first}-`, big), { kind: "unsatisfiable" }, first);
    assert.deepEqual(parseRange(`bytes=${first}-,0-0`, 100), ranges([0, 1]), first);
    assert.deepEqual(parseRange(`bytes=-${first}`, 100), ranges([0, 100]), first);
    assert.deepEqual(parseRange(`bytes=5-${first}`, 100), ranges([5, 100]), first);
  }
  // A last-pos past 2^53 is still not below a first-pos past 2^53: the range is valid, just unsatisfiable.
  assert.deepEqual(parseRange("bytes=9007199254740993-9007199254740992", 100), { kind: "full" });
});
