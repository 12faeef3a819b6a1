import assert from "node:assert/strict";
import fc from "fast-check";
import { SCALE_TOTAL } from "../../../codec/rans/constants.ts";
import { ransDecode } from "../../../codec/rans/decode.ts";
import { ransBound, ransEncode } from "../../../codec/rans/encode.ts";
import { assertCodecError, decodesOrCodecError } from "../assert_codec_error.ts";
import { atOffset, normalBf16, Rng } from "../prng.ts";

/** Encodes `src` exactly as the chunk encoder does, into a right-sized copy. */
function encode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(ransBound(src.length)).fill(0xcc);
  const n = ransEncode(src, out);
  assert.ok(n <= out.length, `wrote ${n} of ${out.length}`);
  return out.slice(0, n);
}

function decode(enc: Uint8Array, n: number, slots?: Int32Array): Uint8Array {
  const out = new Uint8Array(n);
  ransDecode(enc, out, slots);
  return out;
}

function roundTrip(src: Uint8Array, slots?: Int32Array): Uint8Array {
  const enc = encode(src);
  assert.deepEqual(decode(enc, src.length, slots), src);
  return enc;
}

/** A length-`n` input over `alphabet` with the given weight per symbol, always using two values. */
function sample(rng: Rng, n: number, weights: number[]): Uint8Array {
  const total = weights.reduce((a, b) => a + b, 0);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let r = rng.float() * total, s = 0;
    while (s < weights.length - 1 && (r -= weights[s]) >= 0) s++;
    out[i] = s;
  }
  // Guarantee two distinct values (ransEncode's precondition) without disturbing the rest much.
  if (out.every((v) => v === out[0])) out[n - 1] = out[0] === 0 ? 1 : 0;
  return out;
}

const LENGTHS = [2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 1000, 65536];

const DISTRIBUTIONS: [string, number[]][] = [
  ["two symbols", [1, 1]],
  ["two symbols, skewed", [1000, 1]],
  ["uniform 256", new Array(256).fill(1)],
  ["uniform 255", new Array(255).fill(1)],
  ["very skewed", [1e6, 1, 1, 1, 1]],
  ["geometric", Array.from({ length: 40 }, (_, i) => Math.pow(0.7, i))],
  ["sparse high symbols", [...new Array(250).fill(0), 5, 1, 0, 3, 0, 1]],
];

Deno.test("rans: round trip for every distribution and length", () => {
  const rng = new Rng(2024);
  for (const [name, weights] of DISTRIBUTIONS) {
    for (const n of LENGTHS) {
      const src = sample(rng, n, weights);
      try {
        const enc = roundTrip(src);
        assert.ok(enc.length <= ransBound(n));
      } catch (e) {
        throw new Error(`${name}, length ${n}: ${(e as Error).message}`);
      }
    }
  }
});

Deno.test("rans: every byte value present (256 symbols) and all-but-one (255)", () => {
  const rng = new Rng(8);
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  roundTrip(all);
  roundTrip(all.slice().reverse());
  roundTrip(all.subarray(1));
  roundTrip(all.subarray(0, 255));
  const many = rng.bytes(10000);
  many.set(all);
  roundTrip(many);
});

Deno.test("rans: single rare symbol in a long run (max skew)", () => {
  for (const n of [2, 3, 5, 8, 4097, 65536]) {
    for (const where of [0, 1, n >> 1, n - 1]) {
      const src = new Uint8Array(n).fill(200);
      src[where] = 3;
      roundTrip(src);
    }
  }
});

Deno.test("rans: compresses BF16 exponent planes well and random bytes hardly", () => {
  const rng = new Rng(77);
  const bf16 = normalBf16(rng, 65536);
  const exp = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) exp[i] = ((bf16[2 * i + 1] << 1) | (bf16[2 * i] >> 7)) & 0xff;
  const enc = roundTrip(exp);
  assert.ok(enc.length < exp.length * 0.4, `exponent plane coded to ${enc.length}`);
  const random = rng.bytes(65536);
  const encRandom = roundTrip(random);
  assert.ok(encRandom.length < random.length * 1.02 + 600, `random coded to ${encRandom.length}`);
});

Deno.test("rans: round trip with fast-check inputs, unaligned views, reused slots", () => {
  const slots = new Int32Array(SCALE_TOTAL);
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 2, maxLength: 3000 }),
      fc.integer({ min: 0, max: 3 }),
      (src, off) => {
        fc.pre(src.some((v) => v !== src[0]));
        const enc = encode(atOffset(src, off));
        // The decoder must not depend on the payload's alignment or on stale slot contents.
        assert.deepEqual(decode(atOffset(enc, (off + 1) & 3), src.length, slots), src);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("rans: round trip with fast-check skewed alphabets", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 2, maxLength: 256 }),
      fc.integer({ min: 2, max: 5000 }),
      fc.integer(),
      (weights, n, seed) => {
        fc.pre(weights.filter((w) => w > 0).length >= 1);
        roundTrip(sample(new Rng(seed), n, weights));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("rans: every strict prefix of an encoding is rejected", () => {
  const rng = new Rng(11);
  const cases: [number, number[]][] = [[7, [1, 1]], [40, [5, 3, 1]], [300, new Array(40).fill(1)]];
  for (const [n, weights] of cases) {
    const src = sample(rng, n, weights);
    const enc = encode(src);
    for (let len = 0; len < enc.length; len++) {
      assertCodecError(() => decode(enc.subarray(0, len), n), "truncated", "corrupt");
    }
    // Extra trailing bytes are not silently ignored either.
    assertCodecError(() => decode(Uint8Array.of(...enc, 0, 0), n), "corrupt");
  }
});

Deno.test("rans: single bit flips throw CodecError or decode, nothing else", () => {
  const rng = new Rng(12);
  let rejected = 0, total = 0;
  const cases: [number, number[]][] = [[9, [1, 1]], [64, [9, 3, 1, 1]], [
    200,
    new Array(50).fill(1),
  ]];
  for (const [n, weights] of cases) {
    const src = sample(rng, n, weights);
    const enc = encode(src);
    for (let bit = 0; bit < enc.length * 8; bit++) {
      const bad = enc.slice();
      bad[bit >> 3] ^= 1 << (bit & 7);
      total++;
      if (!decodesOrCodecError(() => decode(bad, n), "truncated", "corrupt", "unknown_codec")) {
        rejected++;
      }
    }
  }
  // rANS cannot catch every flip, but the end-of-stream and final-state checks catch most.
  assert.ok(rejected > total * 0.5, `only ${rejected} of ${total} flips detected`);
});

Deno.test("rans: wrong output length is detected", () => {
  const rng = new Rng(13);
  const src = sample(rng, 500, [3, 2, 1]);
  const enc = encode(src);
  for (const n of [0, 1, 250, 499, 501, 1000]) {
    assertCodecError(() => decode(enc, n), "truncated", "corrupt");
  }
});

Deno.test("rans: random payloads never throw anything but CodecError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 2000 }), (b, n) => {
      decodesOrCodecError(() => decode(b, n), "truncated", "corrupt", "unknown_codec");
    }),
    { numRuns: 1000 },
  );
  // Random states and stream behind a valid table: exercises the coding loop itself.
  const table = encode(Uint8Array.of(0, 1, 2, 3, 0, 1)).subarray(0, 6);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 2000 }), (b, n) => {
      decodesOrCodecError(() => decode(Uint8Array.of(...table, ...b), n), "truncated", "corrupt");
    }),
    { numRuns: 1000 },
  );
});

Deno.test("rans: a huge output length against a tiny stream fails fast", () => {
  const enc = encode(Uint8Array.of(1, 2, 1, 2));
  const start = performance.now();
  assertCodecError(() => decode(enc, 1 << 22), "truncated", "corrupt");
  assert.ok(performance.now() - start < 2000);
});

Deno.test("rans: one-symbol inputs are outside the format; the decoder refuses their table", () => {
  // ransEncode needs two distinct values, so a length-1 plane (or any constant plane) is never
  // rANS-coded: encodeChunk stores it as a constant plane instead (see chunk_test.ts). What the
  // encoder emits if called anyway must not decode.
  for (const src of [Uint8Array.of(9), new Uint8Array(10).fill(200)]) {
    const out = new Uint8Array(ransBound(src.length));
    const n = ransEncode(src, out);
    assertCodecError(() => decode(out.subarray(0, n), src.length), "corrupt");
  }
});

Deno.test("rans: two-symbol inputs of every short length and every pattern", () => {
  // Exhaustive over lengths 2..10: all 2^n - 2 non-constant binary strings, with symbols 0/255.
  for (let n = 2; n <= 10; n++) {
    for (let mask = 1; mask < (1 << n) - 1; mask++) {
      const src = Uint8Array.from({ length: n }, (_, i) => (mask >> i) & 1 ? 255 : 0);
      roundTrip(src);
    }
  }
});
