import assert from "node:assert/strict";
import {
  f16Table32,
  f32Bits,
  f32BitsToBf16,
  f32BitsToF16,
  fromFloat32,
  toFloat32,
} from "../../../codec/variants/float.ts";

Deno.test("float: every binary16 pattern survives F16 → F32 → F16 (NaNs become quiet)", () => {
  const t = f16Table32();
  for (let h = 0; h < 65536; h++) {
    const back = f32BitsToF16(f32Bits(t[h]));
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) assert.equal(back, (h & 0x8000) | 0x7e00);
    else assert.equal(back, h, `0x${h.toString(16)}`);
  }
});

Deno.test("float: F32 → F16 rounds to nearest even, with subnormals and overflow", () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00], // halfway to 2^16 rounds to even: infinity
    [65519.99, 0x7bff],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000], // exactly half the smallest subnormal: ties to even (0)
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // 1.5 ulps: ties to even (2)
    [2 ** -14 - 2 ** -25, 0x0400], // rounds up into the smallest normal
    [1 + 2 ** -11, 0x3c00], // tie, even stays
    [1 + 3 * 2 ** -11, 0x3c02], // tie, odd rounds up
    [-0, 0x8000],
  ];
  for (const [v, h] of cases) assert.equal(f32BitsToF16(f32Bits(v)), h, String(v));
});

Deno.test("float: F32 → BF16 rounds to nearest even; NaN stays NaN", () => {
  assert.equal(f32BitsToBf16(f32Bits(1)), 0x3f80);
  assert.equal(f32BitsToBf16(0x3f808000), 0x3f80); // tie to even
  assert.equal(f32BitsToBf16(0x3f818000), 0x3f82); // tie, odd rounds up
  assert.equal(f32BitsToBf16(0x7f7fffff), 0x7f80); // overflows to infinity
  assert.equal(f32BitsToBf16(0xffc00001), 0xffc0);
});

Deno.test("float: FP8 E4M3 and E5M2 read and write every pattern exactly", () => {
  for (const dtype of ["F8_E4M3", "F8_E5M2"] as const) {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const v = toFloat32(all, dtype);
    const back = new Uint8Array(256);
    fromFloat32(v, dtype, back);
    for (let b = 0; b < 256; b++) {
      if (Number.isNaN(v[b])) assert.ok(Number.isNaN(toFloat32(back.subarray(b, b + 1), dtype)[0]));
      else assert.equal(back[b], b, `${dtype} 0x${b.toString(16)}`);
    }
  }
  const out = new Uint8Array(3);
  fromFloat32(Float32Array.of(1000, -Infinity, 470), "F8_E4M3", out);
  assert.deepEqual([...out], [0x7e, 0xfe, 0x7e]); // saturates to ±448
  fromFloat32(Float32Array.of(1e6, 61440, 61439), "F8_E5M2", out);
  assert.deepEqual([...out], [0x7c, 0x7c, 0x7b]);
});

Deno.test("float: F64 and unaligned F32 round trip through binary32", () => {
  const src = Float64Array.of(1.5, -2.25, 1e-3);
  const bytes = new Uint8Array(src.buffer);
  const v = toFloat32(bytes, "F64");
  assert.equal(v[0], 1.5);
  assert.equal(v[2], Math.fround(1e-3));
  const out = new Uint8Array(24);
  fromFloat32(v, "F64", out);
  assert.equal(new Float64Array(out.buffer)[1], -2.25);
  const odd = new Uint8Array(9).subarray(1);
  odd.set(new Uint8Array(Float32Array.of(3, -4).buffer));
  assert.deepEqual([...toFloat32(odd, "F32")], [3, -4]);
});
