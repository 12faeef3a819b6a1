/**
 * The adaptive plane codec (codec 5): round trips of every model, context, variant and lane count,
 * and every malformed payload failing with a CodecError of the right kind.
 */
import assert from "node:assert/strict";
import { adaptiveDecode } from "../../../codec/adaptive/decode.ts";
import { adaptiveEncode } from "../../../codec/adaptive/encode.ts";
import { type AdaptiveHeader } from "../../../codec/adaptive/header.ts";
import { adaptiveBest, topValues } from "../../../codec/adaptive/choose.ts";
import {
  CONTEXT_COLUMN,
  CONTEXT_NONE,
  CONTEXT_PREVIOUS,
  LOW_ADAPTIVE,
  LOW_UNIFORM,
  MODEL_BYTE,
  MODEL_MANTISSA,
  MODEL_NIBBLES,
  MODEL_RANK,
} from "../../../codec/adaptive/constants.ts";
import { forward, inverseTable } from "../../../codec/adaptive/model.ts";
import { adaptiveScratch } from "../../../codec/adaptive/encode.ts";
import { assertCodecError, decodesOrCodecError } from "../assert_codec_error.ts";
import { Rng } from "../prng.ts";

const SIZES = [0, 1, 3, 4, 5, 17, 300, 5000, 70001];
const CONTEXTS = [CONTEXT_NONE, CONTEXT_COLUMN, CONTEXT_PREVIOUS];
const LANES = [1, 2, 4];

/** Skewed bytes: a few common values, a tail of rare ones, as real planes are. */
function skewed(rng: Rng, n: number, common = 8): Uint8Array {
  const out = new Uint8Array(n), base = rng.int(200);
  for (let i = 0; i < n; i++) {
    out[i] = rng.float() < 0.9
      ? base + Math.min(common - 1, Math.floor(-Math.log2(rng.float() + 1e-9)))
      : rng.int(256);
  }
  return out;
}

function header(over: Partial<AdaptiveHeader>): AdaptiveHeader {
  return {
    model: MODEL_BYTE,
    context: CONTEXT_NONE,
    variant: 0,
    lanes: 1,
    cols: 7,
    elementBytes: 1,
    values: new Uint8Array(0),
    ...over,
  };
}

function roundTrip(plane: Uint8Array, h: AdaptiveHeader, above?: Uint8Array): Uint8Array {
  const coded = adaptiveEncode(plane, h, above);
  const out = new Uint8Array(plane.length);
  adaptiveDecode(coded, out, above);
  assert.deepEqual(out, plane, `model ${h.model} context ${h.context} lanes ${h.lanes}`);
  return coded;
}

Deno.test("adaptive: every model, context, variant and lane count round-trips", () => {
  const rng = new Rng(51);
  for (const n of SIZES) {
    for (const lanes of LANES) {
      for (const context of CONTEXTS) {
        const cols = 1 + rng.int(40);
        for (const variant of [0, 1, 2, 3]) {
          roundTrip(skewed(rng, n), header({ context, variant, lanes, cols }));
        }
        const e = skewed(rng, n, 20);
        if (n > 0) {
          roundTrip(e, header({ model: MODEL_RANK, context, lanes, cols, values: topValues(e) }));
        }
        for (const eb of [1, 4]) {
          const packed = skewed(rng, n - (n % eb));
          roundTrip(
            packed,
            header({ model: MODEL_NIBBLES, context, lanes, cols, elementBytes: eb }),
          );
        }
      }
      const above = skewed(rng, n, 12), m = rng.bytes(n);
      for (const variant of n > 0 ? [LOW_UNIFORM, LOW_ADAPTIVE] : []) {
        roundTrip(
          m,
          header({ model: MODEL_MANTISSA, variant, lanes, values: topValues(above) }),
          above,
        );
      }
    }
  }
});

Deno.test("adaptive: rank values outside the list escape, any count from 1 to 15", () => {
  const rng = new Rng(52);
  for (const count of [1, 2, 7, 15]) {
    const plane = rng.bytes(2000);
    const values = Uint8Array.from(new Set(Array.from(plane))).slice(0, count);
    roundTrip(plane, header({ model: MODEL_RANK, lanes: 2, values }));
  }
});

Deno.test("adaptive: byte transforms are bijections with their inverse tables", () => {
  for (const variant of [0, 1, 2, 3]) {
    const inverse = inverseTable(variant), seen = new Set<number>();
    for (let b = 0; b < 256; b++) {
      seen.add(forward(variant, b));
      assert.equal(inverse[forward(variant, b)], b);
    }
    assert.equal(seen.size, 256);
  }
  // E4M3 -1.0 (0xb8: s=1 e=0111 m=000) puts its exponent in the high nibble, the sign at bit 3.
  assert.equal(forward(1, 0xb8), 0x78);
  // E5M2 -inf (0xfc: s=1 e=11111 m=00): exponent high, sign at bit 2.
  assert.equal(forward(2, 0xfc), 0xfc);
  // Zigzag: 0, -1, 1, -128, 127.
  assert.deepEqual([0x00, 0xff, 0x01, 0x80, 0x7f].map((b) => forward(3, b)), [0, 1, 2, 255, 254]);
});

Deno.test("adaptive: skewed planes code within 4% of their order-0 entropy", () => {
  const rng = new Rng(53), plane = skewed(rng, 65536);
  const counts = new Map<number, number>();
  for (const b of plane) counts.set(b, (counts.get(b) ?? 0) + 1);
  let bits = 0;
  for (const c of counts.values()) bits += c * Math.log2(plane.length / c);
  const best = adaptiveBest(
    plane,
    { role: "byte", cols: 256, elementBytes: 1 },
    undefined,
    adaptiveScratch(),
  );
  // Stationary data is the adaptive model's worst case: it keeps tracking noise (about 1%).
  assert.ok(best && best.length < (bits / 8) * 1.04, `${best?.length} vs ${bits / 8}`);
});

// ---------------------------------------------------------------------------------------------
// Malformed payloads

function valid(): { plane: Uint8Array; coded: Uint8Array } {
  const plane = skewed(new Rng(54), 3000);
  return {
    plane,
    coded: adaptiveEncode(plane, header({ context: CONTEXT_COLUMN, lanes: 4, cols: 30 })),
  };
}

function decodeBad(coded: Uint8Array, n = 3000, above?: Uint8Array) {
  return () => adaptiveDecode(coded, new Uint8Array(n), above);
}

Deno.test("adaptive: header fields out of range are errors of the right kind", () => {
  const { coded } = valid();
  const edit = (at: number, v: number) => {
    const bad = coded.slice();
    bad[at] = v;
    return bad;
  };
  assertCodecError(decodeBad(edit(0, 4)), "unknown_codec");
  assertCodecError(decodeBad(edit(0, 0xff)), "unknown_codec");
  assertCodecError(decodeBad(edit(1, coded[1] | 3)), "corrupt"); // context 3
  assertCodecError(decodeBad(edit(1, coded[1] | 0x30)), "corrupt"); // 8 lanes
  assertCodecError(decodeBad(edit(1, coded[1] | 0x40)), "corrupt"); // reserved bit
  const zeroCols = coded.slice();
  zeroCols.fill(0, 2, 6);
  assertCodecError(decodeBad(zeroCols), "corrupt");
  const wide = coded.slice();
  new DataView(wide.buffer).setUint32(2, 65537, true);
  assertCodecError(decodeBad(wide), "corrupt"); // column context over too many columns
  for (let cut = 0; cut < 6 + 28; cut++) {
    assertCodecError(decodeBad(coded.subarray(0, cut)), "truncated", "corrupt");
  }
});

Deno.test("adaptive: model-specific header rules", () => {
  const rng = new Rng(55), e = skewed(rng, 100, 10), values = topValues(e);
  const rank = adaptiveEncode(e, header({ model: MODEL_RANK, values }));
  const twice = rank.slice();
  twice[7] = twice[8]; // the first value listed again
  assertCodecError(decodeBad(twice, 100), "corrupt");
  const none = rank.slice();
  none[6] = 0;
  assertCodecError(decodeBad(none, 100), "corrupt");
  const many = rank.slice();
  many[6] = 16;
  assertCodecError(decodeBad(many, 100), "corrupt", "truncated");
  const variant = rank.slice();
  variant[1] |= 4;
  assertCodecError(decodeBad(variant, 100), "corrupt");
  const m = adaptiveEncode(rng.bytes(100), header({ model: MODEL_MANTISSA, values }), e);
  assertCodecError(decodeBad(m, 100), "corrupt"); // no plane above
  assertCodecError(decodeBad(m, 100, new Uint8Array(99)), "corrupt");
  const ctx = m.slice();
  ctx[1] |= 1;
  assertCodecError(decodeBad(ctx, 100, e), "corrupt");
  const low = m.slice();
  low[1] |= 8;
  assertCodecError(decodeBad(low, 100, e), "corrupt");
  const nib = adaptiveEncode(rng.bytes(100), header({ model: MODEL_NIBBLES, elementBytes: 4 }));
  for (const eb of [0, 9]) {
    const bad = nib.slice();
    bad[6] = eb;
    assertCodecError(decodeBad(bad, 100), "corrupt");
  }
});

Deno.test("adaptive: states, stream lengths, leftovers and final states are checked", () => {
  const { coded } = valid(), states = 6;
  const low = coded.slice();
  new DataView(low.buffer).setUint32(states, 1 << 22, true);
  assertCodecError(decodeBad(low), "corrupt");
  const high = coded.slice();
  new DataView(high.buffer).setUint32(states + 4, 2 ** 31, true);
  assertCodecError(decodeBad(high), "corrupt");
  const long = coded.slice();
  new DataView(long.buffer).setUint32(states + 16, coded.length, true);
  assertCodecError(decodeBad(long), "truncated");
  const extra = new Uint8Array(coded.length + 1);
  extra.set(coded);
  assertCodecError(decodeBad(extra), "corrupt", "truncated");
  assertCodecError(decodeBad(coded.subarray(0, coded.length - 1)), "corrupt", "truncated");
  // The same payload decoded to a different length runs out of bytes or leaves a wrong state.
  assertCodecError(decodeBad(coded, 2999), "corrupt", "truncated");
  assertCodecError(decodeBad(coded, 3001), "corrupt", "truncated");
});

Deno.test("adaptive: damaged payloads decode exactly or fail with a CodecError", () => {
  const rng = new Rng(56);
  const plane = skewed(rng, 4000), above = skewed(rng, 4000, 10);
  const payloads = [
    adaptiveEncode(plane, header({ context: CONTEXT_COLUMN, lanes: 4, cols: 64, variant: 1 })),
    adaptiveEncode(
      plane,
      header({
        model: MODEL_RANK,
        context: CONTEXT_PREVIOUS,
        lanes: 2,
        values: topValues(plane).slice(0, 5),
      }),
    ),
    adaptiveEncode(
      plane,
      header({ model: MODEL_MANTISSA, lanes: 4, values: topValues(above) }),
      above,
    ),
    adaptiveEncode(
      plane,
      header({ model: MODEL_NIBBLES, context: CONTEXT_COLUMN, elementBytes: 4, cols: 10 }),
    ),
  ];
  for (const coded of payloads) {
    for (let trial = 0; trial < 150; trial++) {
      const bad = coded.slice();
      for (let k = 0; k <= rng.int(3); k++) bad[rng.int(bad.length)] ^= 1 << rng.int(8);
      const out = new Uint8Array(plane.length);
      if (decodesOrCodecError(() => adaptiveDecode(bad, out, above))) {
        // A flip the model absorbs must still give back the plane exactly... or differ, which only
        // the chunk checksum catches; both are allowed here, a crash or hang is not.
        assert.equal(out.length, plane.length);
      }
    }
  }
});
