/**
 * The context rANS plane codec (codec 6): round trips of every source, shift and class map
 * (property tests), chunks of FP8, INT8 and BF16 whose planes the encoder codes this way, and
 * every malformed payload failing with a CodecError, never another error.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { contextDecode } from "../../../codec/context/decode.ts";
import { contextBest, contextEncode } from "../../../codec/context/encode.ts";
import {
  type ContextHeader,
  SOURCE_PLANE_ABOVE,
  SOURCE_PREVIOUS,
  SOURCE_ROW_ABOVE,
} from "../../../codec/context/format.ts";
import { encodeChunk } from "../../../codec/chunk_encode.ts";
import { decodeChunkBytes } from "../../../codec/chunk_decode.ts";
import { type Dtype, planeLayout } from "../../../codec/dtype.ts";
import { CODEC_CONTEXT } from "../../../codec/plane_codec.ts";
import { assertCodecError, decodesOrCodecError } from "../assert_codec_error.ts";
import { driftingFp8, Rng } from "../prng.ts";

function header(
  source: number,
  shift: number,
  classes: number,
  keys: number[],
  cols = 0,
): ContextHeader {
  const classOfKey = new Uint8Array(256 >> shift);
  keys.forEach((k, i) => classOfKey[k % classOfKey.length] = 1 + (i % (classes - 1)));
  return { source, shift, cols, classes, classOfKey };
}

Deno.test("context: any plane round-trips under any source, shift and class map", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 2, max: 8 }),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }),
      fc.integer({ min: 4, max: 70 }),
      (plane, source, shift, classes, keys, cols) => {
        const h = header(source, shift, classes, keys, source === SOURCE_ROW_ABOVE ? cols : 0);
        const above = plane.map((b, i) => (b * 7 + i) & 0xff);
        const coded = contextEncode(plane, h, above);
        const out = new Uint8Array(plane.length);
        contextDecode(coded, out, source === SOURCE_PLANE_ABOVE ? above : undefined);
        assert.deepEqual(out, plane);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("context: the encoder's choice beats order-0 rANS on planes with context", () => {
  const rng = new Rng(3);
  const plane = driftingFp8(rng, 50_000);
  const coded = contextBest(plane, { shift: 3, cols: 100, previous: true }, plane.length);
  assert.ok(coded, "a context payload");
  const out = new Uint8Array(plane.length);
  contextDecode(coded, out);
  assert.deepEqual(out, plane);
  // Independent bytes: nothing to gain, so no payload.
  const flat = Uint8Array.from({ length: 50_000 }, () => rng.int(2) << 7 | 8 + rng.int(3) << 3);
  const plain = encodeChunk(flat, planeLayout("F8_E4M3"), { mode: "best", dtype: "F8_E4M3" });
  assert.notEqual(plain[1], CODEC_CONTEXT);
});

Deno.test("context: FP8, INT8 and BF16 chunks whose planes use it decode exactly", () => {
  const rng = new Rng(7);
  const n = 40_000;
  const cases: [Dtype, Uint8Array][] = [
    ["F8_E4M3", driftingFp8(rng, n)],
    ["F8_E5M2", driftingFp8(rng, n).map((b) => (b & 0x80) | ((b & 0x78) >> 1) | (b & 3))],
    ["I8", driftingFp8(rng, n).map((b) => ((b & 0x78) * (b & 0x80 ? -1 : 1) + rng.int(8)) & 0xff)],
  ];
  const bf16 = new Uint8Array(2 * n);
  const exps = driftingFp8(rng, n);
  for (let i = 0; i < n; i++) {
    const e = 112 + ((exps[i] >> 3) & 15), m = (e & 3) * 30 + rng.int(20);
    bf16[2 * i + 1] = (rng.int(2) << 7) | (e >> 1);
    bf16[2 * i] = ((e & 1) << 7) | m;
  }
  cases.push(["BF16", bf16]);
  for (const [dtype, raw] of cases) {
    const layout = planeLayout(dtype);
    const stored = encodeChunk(raw, layout, { mode: "best", dtype, tileCols: 200 });
    const codecs = Array.from({ length: stored[0] }, (_, p) => stored[1 + 5 * p]);
    assert.ok(codecs.includes(CODEC_CONTEXT), `${dtype}: codecs ${codecs}`);
    const out = new Uint8Array(raw.length);
    decodeChunkBytes(stored, layout, out);
    assert.deepEqual(out, raw, dtype);
  }
});

Deno.test("context: malformed payloads fail with a CodecError", () => {
  const rng = new Rng(11);
  const plane = driftingFp8(rng, 3000), above = driftingFp8(rng, 3000);
  for (const source of [SOURCE_PREVIOUS, SOURCE_ROW_ABOVE, SOURCE_PLANE_ABOVE]) {
    const h = header(source, 3, 4, [1, 5, 9, 12], source === SOURCE_ROW_ABOVE ? 50 : 0);
    const coded = contextEncode(plane, h, above);
    const out = new Uint8Array(plane.length);
    const ctxAbove = source === SOURCE_PLANE_ABOVE ? above : undefined;
    for (let cut = 0; cut < coded.length; cut += Math.max(1, coded.length >> 6)) {
      assertCodecError(() => contextDecode(coded.subarray(0, cut), out, ctxAbove));
    }
    for (let round = 0; round < 300; round++) {
      const bad = coded.slice();
      bad[rng.int(Math.min(bad.length, 200))] ^= 1 << rng.int(8);
      if (decodesOrCodecError(() => contextDecode(bad, out, ctxAbove))) {
        // A flip may still decode (a table entry's meaning changed); the chunk's XXH32 catches it.
        assert.equal(out.length, plane.length);
      }
    }
  }
  const plain = contextEncode(plane, header(SOURCE_PREVIOUS, 3, 2, [3]));
  for (const [at, value] of [[0, 3], [1, 8], [2, 1], [2, 9], [3, 200]]) {
    const bad = plain.slice();
    bad[at] = value;
    assertCodecError(() => contextDecode(bad, new Uint8Array(plane.length)), "corrupt");
  }
  // The plane-above source needs a plane above.
  const needs = contextEncode(plane, header(SOURCE_PLANE_ABOVE, 0, 2, [7]), above);
  assertCodecError(() => contextDecode(needs, new Uint8Array(plane.length)), "corrupt");
});
