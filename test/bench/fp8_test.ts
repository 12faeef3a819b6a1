/** The bench's FP8 conversion: round to nearest even, saturation, NaN, subnormals, both formats. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { fromFp8, toFp8 } from "../../bench/inputs/fp8.ts";

Deno.test("fp8: known values of E4M3 and E5M2", () => {
  assert.equal(toFp8(1, "E4M3"), 0x38);
  assert.equal(toFp8(-1, "E4M3"), 0xb8);
  assert.equal(toFp8(448, "E4M3"), 0x7e);
  assert.equal(toFp8(1e9, "E4M3"), 0x7e); // saturated
  assert.equal(toFp8(-Infinity, "E4M3"), 0xfe);
  assert.equal(toFp8(NaN, "E4M3"), 0x7f);
  assert.equal(toFp8(2 ** -9, "E4M3"), 0x01); // smallest subnormal
  assert.equal(toFp8(2 ** -10, "E4M3"), 0x00); // a tie, to even (0)
  assert.equal(toFp8(3 * 2 ** -10, "E4M3"), 0x02); // a tie, to even (2)
  assert.equal(toFp8(1 + 1 / 16, "E4M3"), 0x38); // tie between 1 and 1.125: even mantissa
  assert.equal(toFp8(1 + 3 / 16, "E4M3"), 0x3a); // tie between 1.125 and 1.25: even mantissa
  assert.equal(toFp8(-0, "E4M3"), 0x80);
  assert.equal(toFp8(1, "E5M2"), 0x3c);
  assert.equal(toFp8(57344, "E5M2"), 0x7b);
  assert.equal(toFp8(1e9, "E5M2"), 0x7b);
  assert.equal(toFp8(2 ** -16, "E5M2"), 0x01);
  assert.ok(Number.isNaN(fromFp8(0x7f, "E4M3")) && Number.isNaN(fromFp8(0xff, "E4M3")));
  assert.equal(fromFp8(0x7c, "E5M2"), Infinity);
  assert.equal(fromFp8(0xfc, "E5M2"), -Infinity);
  assert.ok(Number.isNaN(fromFp8(0x7d, "E5M2")));
});

Deno.test("fp8: every finite pattern converts back to itself, and rounding is to the nearest", () => {
  for (const format of ["E4M3", "E5M2"] as const) {
    for (let b = 0; b < 256; b++) {
      const v = fromFp8(b, format);
      if (Number.isFinite(v)) assert.equal(toFp8(v, format), b, `${format} ${b}`);
    }
    fc.assert(
      fc.property(fc.double({ min: -60000, max: 60000, noNaN: true }), (x) => {
        const got = fromFp8(toFp8(x, format), format);
        const max = format === "E4M3" ? 448 : 57344;
        if (Math.abs(x) >= max) return assert.equal(Math.abs(got), max);
        // No representable value lies strictly closer to x.
        for (let b = 0; b < 256; b++) {
          const v = fromFp8(b, format);
          if (Number.isFinite(v)) assert.ok(Math.abs(v - x) >= Math.abs(got - x) - 1e-12);
        }
      }),
      { numRuns: 300 },
    );
  }
});
