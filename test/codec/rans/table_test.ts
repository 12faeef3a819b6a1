import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_RICE_K, SCALE_TOTAL } from "../../../codec/rans/constants.ts";
import { readTable } from "../../../codec/rans/table_read.ts";
import {
  countSymbols,
  MAX_TABLE_BYTES,
  normalizeCounts,
  writeTable,
} from "../../../codec/rans/table_write.ts";
import { assertCodecError, decodesOrCodecError } from "../assert_codec_error.ts";
import { Rng } from "../prng.ts";

/** Random frequencies over `count` distinct random symbols, summing to SCALE_TOTAL, each >= 1. */
function randomFreqs(rng: Rng, count: number, skew: number): Uint16Array {
  const all = Array.from({ length: 256 }, (_, i) => i);
  for (let i = 255; i > 0; i--) {
    const j = rng.int(i + 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  const symbols = all.slice(0, count);
  const weights = symbols.map(() => Math.pow(rng.float(), skew));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const freqs = new Uint16Array(256);
  let sum = 0;
  symbols.forEach((s, i) => {
    freqs[s] = 1 + Math.floor((weights[i] / wsum) * (SCALE_TOTAL - count));
    sum += freqs[s];
  });
  freqs[symbols[0]] += SCALE_TOTAL - sum;
  return freqs;
}

function sumOf(freqs: Uint16Array): number {
  return freqs.reduce((a, b) => a + b, 0);
}

function roundTrip(freqs: Uint16Array, pos = 0): { bytes: Uint8Array; end: number } {
  const out = new Uint8Array(pos + MAX_TABLE_BYTES + 8).fill(0xcc);
  const end = writeTable(freqs, out, pos);
  assert.ok(end - pos <= MAX_TABLE_BYTES, `table takes ${end - pos} > ${MAX_TABLE_BYTES} bytes`);
  const back = new Uint16Array(256).fill(7);
  // Read from a view that ends exactly at the table, so any over-read shows as truncation.
  assert.equal(readTable(out.subarray(0, end), pos, back), end);
  assert.deepEqual(back, freqs);
  return { bytes: out.slice(pos, end), end };
}

Deno.test("rans table: countSymbols counts every byte value", () => {
  const counts = new Uint32Array(256).fill(99);
  countSymbols(Uint8Array.of(0, 0, 255, 7, 0), counts);
  assert.equal(counts[0], 3);
  assert.equal(counts[255], 1);
  assert.equal(counts[7], 1);
  assert.equal(counts.reduce((a, b) => a + b, 0), 5);
});

Deno.test("rans table: normalizeCounts sums to 4096 and keeps every present symbol", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 1e7 })), {
        minLength: 2,
        maxLength: 300,
      }),
      (pairs) => {
        const counts = new Uint32Array(256);
        for (const [s, c] of pairs) counts[s] += c;
        fc.pre(counts.filter((c) => c > 0).length >= 2);
        const freqs = new Uint16Array(256);
        normalizeCounts(counts, freqs);
        assert.equal(sumOf(freqs), SCALE_TOTAL);
        for (let s = 0; s < 256; s++) {
          if (counts[s] === 0) assert.equal(freqs[s], 0, `absent symbol ${s}`);
          else assert.ok(freqs[s] >= 1 && freqs[s] < SCALE_TOTAL, `symbol ${s}: ${freqs[s]}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("rans table: normalizeCounts extremes", () => {
  const freqs = new Uint16Array(256);
  // Two symbols, hugely skewed.
  let counts = new Uint32Array(256);
  counts[3] = 1, counts[200] = 4e9;
  normalizeCounts(counts, freqs);
  assert.equal(freqs[3], 1);
  assert.equal(freqs[200], SCALE_TOTAL - 1);
  // All 256 symbols, one dominant: 255 of them get the minimum.
  counts = new Uint32Array(256).fill(1);
  counts[17] = 1e9;
  normalizeCounts(counts, freqs);
  assert.equal(sumOf(freqs), SCALE_TOTAL);
  assert.equal(freqs[17], SCALE_TOTAL - 255);
  // Uniform over 256.
  normalizeCounts(new Uint32Array(256).fill(5), freqs);
  assert.ok(freqs.every((f) => f === 16));
  // Uniform over 3 (does not divide 4096).
  counts = new Uint32Array(256);
  counts[0] = counts[1] = counts[2] = 1;
  normalizeCounts(counts, freqs);
  assert.equal(sumOf(freqs), SCALE_TOTAL);
  assert.ok(Math.max(freqs[0], freqs[1], freqs[2]) - Math.min(freqs[0], freqs[1], freqs[2]) <= 1);
});

Deno.test("rans table: write/read round trip for random tables of 2..256 symbols", () => {
  const rng = new Rng(42);
  for (let count = 2; count <= 256; count++) {
    for (const skew of [0.2, 1, 4, 12]) {
      const freqs = randomFreqs(rng, count, skew);
      assert.equal(sumOf(freqs), SCALE_TOTAL);
      const { bytes } = roundTrip(freqs, rng.int(5));
      assert.equal(bytes[0] & 0x0f, count > 32 ? 1 : 0, "symbol list up to 32, bitmap above");
      assert.ok(bytes[0] >> 4 <= MAX_RICE_K);
      assert.equal(bytes[1], count - 1);
    }
  }
});

Deno.test("rans table: round trip with fast-check tables", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 256 }),
      fc.double({ min: 0.05, max: 20, noNaN: true }),
      fc.integer(),
      fc.integer({ min: 0, max: 16 }),
      (count, skew, seed, pos) => {
        roundTrip(randomFreqs(new Rng(seed), count, skew), pos);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("rans table: extreme tables round trip", () => {
  const two = new Uint16Array(256);
  two[0] = 1, two[255] = SCALE_TOTAL - 1;
  roundTrip(two);
  two.fill(0);
  two[0] = SCALE_TOTAL - 1, two[255] = 1;
  roundTrip(two);
  roundTrip(new Uint16Array(256).fill(16));
  const many = new Uint16Array(256).fill(1);
  many[0] = SCALE_TOTAL - 255;
  roundTrip(many);
  many.fill(1);
  many[255] = SCALE_TOTAL - 255; // the big one is the implicit last
  roundTrip(many);
  const n32 = new Uint16Array(256), n33 = new Uint16Array(256);
  for (let s = 0; s < 32; s++) n32[s * 8] = 128;
  for (let s = 0; s < 33; s++) n33[s * 7] = s === 0 ? SCALE_TOTAL - 32 * 124 : 124;
  assert.equal(roundTrip(n32).bytes[0] & 0x0f, 0);
  assert.equal(roundTrip(n33).bytes[0] & 0x0f, 1);
});

Deno.test("rans table: every strict prefix of a table is truncated", () => {
  const rng = new Rng(3);
  for (const count of [2, 5, 32, 33, 200, 256]) {
    const { bytes } = roundTrip(randomFreqs(rng, count, 2));
    for (let len = 0; len < bytes.length; len++) {
      assertCodecError(
        () => readTable(bytes.subarray(0, len), 0, new Uint16Array(256)),
        "truncated",
      );
    }
  }
});

Deno.test("rans table: bad header fields are rejected", () => {
  const freqs = new Uint16Array(256);
  freqs[10] = 1000, freqs[20] = 3096;
  const { bytes } = roundTrip(freqs);
  const read = (b: Uint8Array) => () => readTable(b, 0, new Uint16Array(256));
  const edit = (f: (b: Uint8Array) => void) => {
    const b = bytes.slice();
    f(b);
    return b;
  };
  for (let mode = 2; mode < 16; mode++) {
    assertCodecError(read(edit((b) => b[0] = (b[0] & 0xf0) | mode)), "unknown_codec");
  }
  for (let k = MAX_RICE_K + 1; k < 16; k++) {
    assertCodecError(read(edit((b) => b[0] = (b[0] & 0x0f) | (k << 4))), "corrupt");
  }
  // count - 1 = 0: a single symbol is not a table.
  assertCodecError(read(Uint8Array.of(0x00, 0x00, 0x05)), "corrupt");
  assertCodecError(read(Uint8Array.of(0x01, 0x00, ...new Uint8Array(32))), "corrupt");
  // Symbol lists must be strictly ascending.
  assertCodecError(read(Uint8Array.of(0x00, 0x01, 20, 10, 0xff, 0xff)), "corrupt");
  assertCodecError(read(Uint8Array.of(0x00, 0x01, 10, 10, 0xff, 0xff)), "corrupt");
  // A bitmap must have exactly `count` bits set.
  const bitmap = new Uint8Array(2 + 32 + 8);
  bitmap[0] = 0x01, bitmap[1] = 2; // 3 symbols
  bitmap[2] = 0b11; // only 2 set
  assertCodecError(read(bitmap), "corrupt");
  bitmap[2] = 0b1111; // 4 set
  assertCodecError(read(bitmap), "corrupt");
});

Deno.test("rans table: frequencies that do not leave room for the last symbol are rejected", () => {
  // The last frequency is implied as 4096 minus the rest, so the only way a stored table can fail
  // to sum to 4096 is an explicit prefix reaching or passing 4096. writeTable does not validate,
  // so it serialises such tables faithfully.
  const cases: [number, number][][] = [
    [[0, 4096], [1, 1]], // first alone fills the total
    [[0, 4000], [1, 96], [2, 5]], // two explicit reach exactly 4096
    [[0, 4095], [1, 2], [2, 1]], // passes 4096
    [[0, 3000], [1, 3000], [9, 1]],
  ];
  for (const entries of cases) {
    const freqs = new Uint16Array(256);
    for (const [s, f] of entries) freqs[s] = f;
    assert.notEqual(sumOf(freqs), SCALE_TOTAL);
    const out = new Uint8Array(MAX_TABLE_BYTES + 64);
    const end = writeTable(freqs, out, 0);
    assertCodecError(() => readTable(out.subarray(0, end), 0, new Uint16Array(256)), "corrupt");
  }
  // Frequencies summing to less than 4096 cannot be represented: the last symbol absorbs the rest.
  const low = new Uint16Array(256);
  low[0] = 100, low[1] = 100;
  const out = new Uint8Array(MAX_TABLE_BYTES);
  const back = new Uint16Array(256);
  readTable(out.subarray(0, writeTable(low, out, 0)), 0, back);
  assert.equal(back[0], 100);
  assert.equal(back[1], SCALE_TOTAL - 100);
});

Deno.test("rans table: unbounded unary runs are rejected, not looped on", () => {
  // k = 0, two symbols, then all ones: the quotient passes the table total.
  const b = new Uint8Array(2 + 2 + 600).fill(0xff);
  b[0] = 0x00, b[1] = 0x01, b[2] = 0, b[3] = 1;
  assertCodecError(() => readTable(b, 0, new Uint16Array(256)), "corrupt");
  // The same ending before a zero bit: truncated.
  assertCodecError(() => readTable(b.subarray(0, 100), 0, new Uint16Array(256)), "truncated");
});

Deno.test("rans table: random bytes either parse to a valid table or throw CodecError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const freqs = new Uint16Array(256);
      let end = -1;
      const ok = decodesOrCodecError(() => end = readTable(bytes, 0, freqs));
      if (ok) {
        assert.ok(end <= bytes.length);
        assert.equal(sumOf(freqs), SCALE_TOTAL);
        assert.ok(freqs.filter((f) => f > 0).length >= 2);
      }
    }),
    { numRuns: 1000 },
  );
});
