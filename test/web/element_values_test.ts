import assert from "node:assert/strict";
import fc from "fast-check";
import {
  elementValues,
  exponentCounts,
  exponentField,
  valueHistogram,
} from "../../src/web/shared/element_values.ts";

Deno.test("element values: every dtype reads as the number it stores", () => {
  const f32 = new Float32Array([1.5, -2, 0.1]);
  assert.deepEqual(
    Array.from(elementValues(new Uint8Array(f32.buffer), "F32")),
    Array.from(f32),
  );
  assert.deepEqual(Array.from(elementValues(new Uint8Array([0x80, 0x3f, 0x00, 0xc0]), "BF16")), [
    1,
    -2,
  ]);
  assert.deepEqual(Array.from(elementValues(new Uint8Array([0x00, 0x3c, 0x00, 0xfc]), "F16")), [
    1,
    -Infinity,
  ]);
  assert.deepEqual(Array.from(elementValues(new Uint8Array([0xff, 0x01]), "I8")), [-1, 1]);
  assert.deepEqual(Array.from(elementValues(new Uint8Array([0xff, 0xff, 0xff, 0xff]), "I32")), [
    -1,
  ]);
  assert.deepEqual(Array.from(elementValues(new Uint8Array([0xff, 0xff]), "U16")), [65535]);
  const i64 = new BigInt64Array([-5n, 1n << 40n]);
  assert.deepEqual(Array.from(elementValues(new Uint8Array(i64.buffer), "I64")), [-5, 2 ** 40]);
  const f64 = new Float64Array([Math.PI]);
  assert.deepEqual(Array.from(elementValues(new Uint8Array(f64.buffer), "F64")), [Math.PI]);
});

Deno.test("exponent counts: the biased exponent of each element, for BF16, F16, F32 and F64", () => {
  fc.assert(
    fc.property(fc.array(fc.float({ noNaN: true }), { minLength: 1, maxLength: 200 }), (xs) => {
      const f32 = Float32Array.from(xs);
      const bits = new Uint32Array(f32.buffer);
      const want = new Uint32Array(256);
      for (const b of bits) want[(b >>> 23) & 0xff]++;
      assert.deepEqual(exponentCounts(new Uint8Array(f32.buffer), exponentField("F32")!), want);
      const bf16 = Uint16Array.from(bits, (b) => b >>> 16);
      assert.deepEqual(exponentCounts(new Uint8Array(bf16.buffer), exponentField("BF16")!), want);
      const f64 = Float64Array.from(xs);
      const hi = new Uint32Array(f64.buffer).filter((_, i) => i % 2 === 1);
      const want64 = new Uint32Array(2048);
      for (const h of hi) want64[(h >>> 20) & 0x7ff]++;
      assert.deepEqual(exponentCounts(new Uint8Array(f64.buffer), exponentField("F64")!), want64);
    }),
  );
  // F16 1.0 = 0x3C00: field 15; F8_E4M3 1.0 = 0x38: field 7.
  assert.equal(exponentCounts(new Uint8Array([0x00, 0x3c]), exponentField("F16")!)[15], 1);
  assert.equal(exponentCounts(new Uint8Array([0x38]), exponentField("F8_E4M3")!)[7], 1);
  assert.equal(exponentField("I32"), null);
});

Deno.test("value histogram: every finite value in one bin, non-finite counted apart", () => {
  const h = valueHistogram(new Float64Array([0, 1, 1, 2, NaN, Infinity]), 4);
  assert.deepEqual(Array.from(h.counts), [1, 0, 2, 1]);
  assert.equal(h.nonFinite, 2);
  assert.deepEqual([h.min, h.max], [0, 2]);
  assert.deepEqual(Array.from(valueHistogram(new Float64Array([3, 3]), 2).counts), [2, 0]);
});
