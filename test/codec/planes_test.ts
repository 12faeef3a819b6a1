import assert from "node:assert/strict";
import fc from "fast-check";
import { mergePlanes, splitPlanes } from "../../codec/planes.ts";
import { DTYPES, planeLayout } from "../../codec/dtype.ts";
import { atOffset, Rng } from "./prng.ts";

function newPlanes(width: number, n: number): Uint8Array[] {
  return Array.from({ length: width }, () => new Uint8Array(n));
}

function split(src: Uint8Array, width: number, signMoved: boolean): Uint8Array[] {
  const planes = newPlanes(width, src.length / width);
  splitPlanes(src, width, signMoved, planes);
  return planes;
}

/**
 * Merges into a view at `offset` of a larger buffer filled with a guard byte, and checks that
 * nothing outside the view was written.
 */
function mergeAt(planes: Uint8Array[], width: number, signMoved: boolean, offset: number) {
  const n = planes[0].length;
  const buf = new Uint8Array(offset + n * width + 16).fill(0xa5);
  const dst = buf.subarray(offset, offset + n * width);
  mergePlanes(planes, width, signMoved, dst);
  for (let i = 0; i < offset; i++) assert.equal(buf[i], 0xa5, `guard byte ${i} overwritten`);
  for (let i = offset + n * width; i < buf.length; i++) {
    assert.equal(buf[i], 0xa5, `guard byte ${i} overwritten`);
  }
  return dst;
}

/** Widths with the sign-move variants that apply; signMoved needs two planes to move between. */
const LAYOUTS: [number, boolean][] = [
  [1, false],
  [2, false],
  [2, true],
  [4, false],
  [4, true],
  [8, false],
  [8, true],
];

const layoutArb = fc.constantFrom(...LAYOUTS);

Deno.test("planes: split then merge is the identity (random data, every width, odd offsets)", () => {
  fc.assert(
    fc.property(
      layoutArb,
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 7 }),
      fc.integer(),
      ([width, signMoved], n, srcOffset, dstOffset, seed) => {
        const raw = new Rng(seed).bytes(n * width);
        const src = atOffset(raw, srcOffset);
        const planes = split(src, width, signMoved);
        for (const p of planes) assert.equal(p.length, n);
        assert.deepEqual(src, raw, "splitting must not modify the source");
        const dst = mergeAt(planes, width, signMoved, dstOffset);
        assert.deepEqual(dst, raw);
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("planes: split then merge is the identity for arbitrary fast-check byte arrays", () => {
  fc.assert(
    fc.property(
      layoutArb.chain(([width, signMoved]) =>
        fc.tuple(
          fc.constant(width),
          fc.constant(signMoved),
          fc.uint8Array({ maxLength: 64 }).map((a) => a.subarray(0, a.length - a.length % width)),
          fc.integer({ min: 0, max: 9 }),
        )
      ),
      ([width, signMoved, raw, offset]) => {
        const dst = mergeAt(split(raw, width, signMoved), width, signMoved, offset);
        assert.deepEqual(dst, raw);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("planes: word-store fast path and byte-wise generic path agree", () => {
  const rng = new Rng(7);
  for (const [width, signMoved] of LAYOUTS) {
    for (const n of [0, 1, 2, 3, 5, 64, 1023]) {
      const raw = rng.bytes(n * width);
      const planes = split(raw, width, signMoved);
      const outs = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((off) => mergeAt(planes, width, signMoved, off));
      for (const out of outs) assert.deepEqual(out, raw, `width ${width} n ${n}`);
    }
  }
});

Deno.test("planes: plane p holds byte p of each element (no sign move)", () => {
  const raw = Uint8Array.from({ length: 24 }, (_, i) => i);
  const planes = split(raw, 4, false);
  assert.deepEqual(planes[0], Uint8Array.of(0, 4, 8, 12, 16, 20));
  assert.deepEqual(planes[1], Uint8Array.of(1, 5, 9, 13, 17, 21));
  assert.deepEqual(planes[2], Uint8Array.of(2, 6, 10, 14, 18, 22));
  assert.deepEqual(planes[3], Uint8Array.of(3, 7, 11, 15, 19, 23));
});

Deno.test("planes: BF16 known answers (exponent plane and sign|mantissa plane)", () => {
  // 1.0 = 0x3F80, -2.0 = 0xC000, little-endian.
  const raw = Uint8Array.of(0x80, 0x3f, 0x00, 0xc0);
  const planes = split(raw, 2, true);
  assert.deepEqual(planes[1], Uint8Array.of(0x7f, 0x80), "exponent plane");
  assert.deepEqual(planes[0], Uint8Array.of(0x00, 0x80), "sign|mantissa plane");
  for (const off of [0, 1]) assert.deepEqual(mergeAt(planes, 2, true, off), raw);

  // -0.0 (0x8000), +inf (0x7F80), a NaN with payload (0x7FC1), smallest subnormal (0x0001).
  const special = Uint8Array.of(0x00, 0x80, 0x80, 0x7f, 0xc1, 0x7f, 0x01, 0x00);
  const sp = split(special, 2, true);
  assert.deepEqual(sp[1], Uint8Array.of(0x00, 0xff, 0xff, 0x00));
  assert.deepEqual(sp[0], Uint8Array.of(0x80, 0x00, 0x41, 0x01));
});

Deno.test("planes: F32 known answers", () => {
  // 1.0f = 0x3F800000, -2.0f = 0xC0000000, 0x12345678 -> hi 0x1234 = s0 e0x24 m0x34.
  const raw = new Uint8Array(Uint32Array.of(0x3f800000, 0xc0000000, 0x12345678).buffer);
  const planes = split(raw, 4, true);
  assert.deepEqual(planes[3], Uint8Array.of(0x7f, 0x80, 0x24));
  assert.deepEqual(planes[2], Uint8Array.of(0x00, 0x80, 0x34));
  assert.deepEqual(planes[1], Uint8Array.of(0x00, 0x00, 0x56));
  assert.deepEqual(planes[0], Uint8Array.of(0x00, 0x00, 0x78));
  for (const off of [0, 1, 2, 3]) assert.deepEqual(mergeAt(planes, 4, true, off), raw);
});

Deno.test("planes: sign move relocates exactly the sign bit (every 16-bit pattern)", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const raw = new Uint8Array(all.buffer);
  const planes = split(raw, 2, true);
  for (let v = 0; v < 65536; v++) {
    const exp = (v >> 7) & 0xff, sm = ((v >> 8) & 0x80) | (v & 0x7f);
    if (planes[1][v] !== exp || planes[0][v] !== sm) {
      assert.fail(`0x${v.toString(16)} split to ${planes[1][v]} / ${planes[0][v]}`);
    }
  }
  assert.deepEqual(mergeAt(planes, 2, true, 0), raw);
  assert.deepEqual(mergeAt(planes, 2, true, 1), raw);
});

Deno.test("planes: every dtype layout round trips", () => {
  const rng = new Rng(99);
  for (const dtype of DTYPES) {
    const { width, signMoved } = planeLayout(dtype);
    const raw = rng.bytes(width * 37);
    for (const off of [0, 1, 3]) {
      assert.deepEqual(mergeAt(split(raw, width, signMoved), width, signMoved, off), raw, dtype);
    }
  }
});
