import assert from "node:assert/strict";
import fc from "fast-check";
import { xxh32 } from "../../codec/xxh32.ts";
import { atOffset, Rng } from "./prng.ts";

const enc = new TextEncoder();

// An independent, deliberately naive XXH32 (BigInt arithmetic, byte-wise reads), written from the
// algorithm specification.
const M32 = 0xffffffffn;
const Q1 = 2654435761n, Q2 = 2246822519n, Q3 = 3266489917n, Q4 = 668265263n, Q5 = 374761393n;
const mul = (a: bigint, b: bigint) => (a * b) & M32;
const add = (a: bigint, b: bigint) => (a + b) & M32;
const rot = (x: bigint, r: bigint) => ((x << r) | (x >> (32n - r))) & M32;
const word = (b: Uint8Array, i: number) =>
  BigInt(b[i]) | (BigInt(b[i + 1]) << 8n) | (BigInt(b[i + 2]) << 16n) | (BigInt(b[i + 3]) << 24n);
const round = (acc: bigint, lane: bigint) => mul(rot(add(acc, mul(lane, Q2)), 13n), Q1);

function referenceXxh32(data: Uint8Array, seed = 0): number {
  const s = BigInt(seed >>> 0);
  let i = 0, h: bigint;
  if (data.length >= 16) {
    const v = [add(add(s, Q1), Q2), add(s, Q2), s, (s - Q1) & M32];
    for (; i + 16 <= data.length; i += 16) {
      for (let l = 0; l < 4; l++) v[l] = round(v[l], word(data, i + 4 * l));
    }
    h = add(add(add(rot(v[0], 1n), rot(v[1], 7n)), rot(v[2], 12n)), rot(v[3], 18n));
  } else {
    h = add(s, Q5);
  }
  h = add(h, BigInt(data.length));
  for (; i + 4 <= data.length; i += 4) h = mul(rot(add(h, mul(word(data, i), Q3)), 17n), Q4);
  for (; i < data.length; i++) h = mul(rot(add(h, mul(BigInt(data[i]), Q5)), 11n), Q1);
  h = mul(h ^ (h >> 15n), Q2);
  h = mul(h ^ (h >> 13n), Q3);
  return Number(h ^ (h >> 16n));
}

// Known answers, computed with the reference C library (libxxhash 0.8.1, XXH32()).
const VECTORS: [string | Uint8Array, number, number][] = [
  ["", 0, 0x02cc5d05],
  ["abc", 0, 0x32d153ff],
  ["", 1, 0x0b2cb792],
  ["a", 0, 0x550d7456],
  ["abc", 1, 0xaa3da8ff],
  ["abcd", 0, 0xa3643705],
  ["", 0xffffffff, 0x9061da9d],
  ["0123456789abcdef", 0, 0xc2c45b69],
  ["0123456789abcdefg", 0, 0xcc79b217],
  ["Nobody inspects the spammish repetition", 0, 0xe2293b2f],
  ["The quick brown fox jumps over the lazy dog", 0, 0xe85ea4de],
  ["The quick brown fox jumps over the lazy dog", 0x9747b28c, 0xc8579d72],
  [Uint8Array.from({ length: 40 }, (_, i) => i), 0, 0xd6a6cf02],
  [Uint8Array.from({ length: 40 }, (_, i) => i), 0x9e3779b1, 0xa8f3d6c3],
];

/** Byte i of the length-table input. */
const TABLE_INPUT = Uint8Array.from({ length: 40 }, (_, i) => (i * 167 + 13) & 0xff);
/** libxxhash XXH32 of TABLE_INPUT[0, n) for n = 0..40, seed 0. */
const TABLE_SEED0 = [
  0x02cc5d05,
  0x376a5b3f,
  0x540429f1,
  0xa982f899,
  0xb75c0586,
  0x0a41674a,
  0x1b6462c5,
  0x048047fc,
  0xa30094ef,
  0x6d5b65c7,
  0x036fcd82,
  0x7b478635,
  0x8e4a8f27,
  0xc2b973b9,
  0xfacb8a6a,
  0xaa281c9d,
  0x816898ee,
  0x47f728f7,
  0x2a2849c3,
  0xa0fba38e,
  0xcf966cca,
  0x99e8b34a,
  0x4c1cab1a,
  0x9211adea,
  0x41f44ddf,
  0x9bf380ce,
  0x55b92362,
  0xe697719e,
  0xc4a35c46,
  0x11ce141f,
  0xc7336dec,
  0x750e88e9,
  0x1869aba7,
  0xe53f9bab,
  0xd377c06d,
  0x5c8eb51a,
  0xb2466756,
  0x2be6f7c3,
  0x8ddc3b4b,
  0x14e5e8d4,
  0x91ecbcfe,
];
/** The same with seed 0x9E3779B1 (above 2^31, so signed/unsigned slips show). */
const TABLE_SEED_BIG = [
  0x36b78ae7,
  0x4b7e76d6,
  0xdf8948e7,
  0xba78fc57,
  0x397140cb,
  0x4df1b95b,
  0x02cb922e,
  0xeb050e78,
  0xc0d1e783,
  0xb63e18a4,
  0xdb6f0db3,
  0xa4d64402,
  0x48b21864,
  0x684e884a,
  0xbfa6a724,
  0x576a3cdf,
  0x14d64d1c,
  0xfbbb0fcd,
  0x503caac6,
  0x71a291e8,
  0x9886584d,
  0x1b212646,
  0x5170bc38,
  0x96b88ef7,
  0x7ad98840,
  0xd8a69d57,
  0x61bb4471,
  0xc0ca710e,
  0xbe3b107b,
  0x32b37759,
  0x62e732e5,
  0xa1dee5b6,
  0x693a229a,
  0x2945ccb0,
  0x0522eeb0,
  0xd7a1b002,
  0x57f47969,
  0x71b3eaf9,
  0x95d9a3dd,
  0x9e11ad4b,
  0x3d54f558,
];

const hex = (v: number) => "0x" + v.toString(16).padStart(8, "0");

Deno.test("xxh32: known-answer vectors", () => {
  for (const [input, seed, want] of VECTORS) {
    const bytes = typeof input === "string" ? enc.encode(input) : input;
    const label = `${JSON.stringify(typeof input === "string" ? input : `[${input.length}]`)}`;
    assert.equal(hex(xxh32(bytes, seed)), hex(want), `${label} seed ${hex(seed)}`);
    assert.equal(hex(referenceXxh32(bytes, seed)), hex(want), `reference, ${label}`);
  }
});

Deno.test("xxh32: seed defaults to 0 and results are unsigned", () => {
  assert.equal(xxh32(new Uint8Array(0)), 0x02cc5d05);
  assert.equal(xxh32(enc.encode("abc")), xxh32(enc.encode("abc"), 0));
  // 0xE85EA4DE has the top bit set: must come back as a positive number.
  const h = xxh32(enc.encode("The quick brown fox jumps over the lazy dog"));
  assert.ok(h > 0x7fffffff && Number.isInteger(h));
});

Deno.test("xxh32: lengths 0..40 across the 16-byte stripe boundary, aligned and unaligned", () => {
  for (let n = 0; n <= 40; n++) {
    const data = TABLE_INPUT.subarray(0, n);
    for (const off of [0, 1, 2, 3, 4, 5]) {
      const view = atOffset(data, off);
      assert.equal(hex(xxh32(view)), hex(TABLE_SEED0[n]), `length ${n}, offset ${off}`);
      assert.equal(
        hex(xxh32(view, 0x9e3779b1)),
        hex(TABLE_SEED_BIG[n]),
        `length ${n}, offset ${off}, big seed`,
      );
    }
    assert.equal(hex(referenceXxh32(data)), hex(TABLE_SEED0[n]), `reference length ${n}`);
  }
});

Deno.test("xxh32: only the view is hashed, not the rest of its buffer", () => {
  const buf = new Uint8Array(64).fill(0xee);
  buf.set(TABLE_INPUT.subarray(0, 20), 4);
  assert.equal(xxh32(buf.subarray(4, 24)), TABLE_SEED0[20]);
  buf.set(TABLE_INPUT.subarray(0, 33), 5);
  assert.equal(xxh32(buf.subarray(5, 38)), TABLE_SEED0[33]);
});

Deno.test("xxh32: matches the independent reference on random data and seeds", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 3 }),
      (data, seed, off) => {
        const want = referenceXxh32(data, seed);
        assert.equal(xxh32(data, seed), want);
        assert.equal(xxh32(atOffset(data, off), seed), want);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("xxh32: unaligned subarrays (byteOffset 1, 2, 3) match aligned copies", () => {
  const rng = new Rng(1234);
  const big = rng.bytes(5000);
  for (const len of [0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 1000, 4093]) {
    for (const off of [1, 2, 3, 5, 6, 7]) {
      const view = big.subarray(off, off + len);
      const copy = view.slice();
      assert.equal(copy.byteOffset, 0);
      assert.equal(xxh32(view), xxh32(copy), `length ${len} offset ${off}`);
      assert.equal(xxh32(view, 0xdeadbeef), xxh32(copy, 0xdeadbeef));
    }
  }
});

Deno.test("xxh32: any single-byte change changes the digest", () => {
  const rng = new Rng(5);
  for (const len of [1, 7, 16, 23, 64, 101]) {
    const data = rng.bytes(len);
    const base = xxh32(data);
    for (let i = 0; i < len; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        data[i] ^= mask;
        assert.notEqual(xxh32(data), base, `length ${len} byte ${i} mask ${mask}`);
        data[i] ^= mask;
      }
    }
  }
});
