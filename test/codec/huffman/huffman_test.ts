/**
 * The Huffman plane codec: round trips, the length limit, and every malformed payload a typed
 * error, never a wrong byte.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_BITS } from "../../../codec/huffman/constants.ts";
import { huffmanDecode } from "../../../codec/huffman/decode.ts";
import { codeLengths, huffmanBound, huffmanEncode } from "../../../codec/huffman/encode.ts";
import { encodeChunk } from "../../../codec/chunk_encode.ts";
import { decodeChunk } from "../../../codec/chunk_decode.ts";
import { planeLayout } from "../../../codec/dtype.ts";
import { CODEC_HUFFMAN, PLANE_ENTRY_BYTES } from "../../../codec/plane_codec.ts";
import { xxh32 } from "../../../codec/xxh32.ts";
import { assertCodecError, decodesOrCodecError } from "../assert_codec_error.ts";
import { normalBf16, Rng } from "../prng.ts";

function encode(src: Uint8Array): Uint8Array {
  const counts = new Uint32Array(256);
  for (const s of src) counts[s]++;
  const out = new Uint8Array(huffmanBound(src.length));
  return out.slice(0, huffmanEncode(src, counts, out));
}

/** Bytes drawn from a skewed alphabet of `k` symbols, at least two distinct. */
const skewed = fc.tuple(fc.integer({ min: 2, max: 256 }), fc.integer({ min: 2, max: 3000 }))
  .chain(([k, n]) =>
    fc.tuple(
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: k, maxLength: k }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }),
    )
  )
  .map(([alphabet, us]) => {
    const out = Uint8Array.from(us, (u) => alphabet[Math.floor(u * u * u * alphabet.length)]);
    out[0] = 0, out[1] = 1;
    return out;
  });

Deno.test("huffman: round trip of skewed and uniform planes", () => {
  fc.assert(
    fc.property(skewed, (src) => {
      const back = new Uint8Array(src.length);
      huffmanDecode(encode(src), back);
      assert.deepEqual(back, src);
    }),
    { numRuns: 200 },
  );
});

Deno.test("huffman: code lengths never exceed the limit, even for Fibonacci counts", () => {
  // Fibonacci frequencies give the deepest possible Huffman tree.
  const counts = new Uint32Array(256);
  for (let s = 0, a = 1, b = 1; s < 40; s++, [a, b] = [b, Math.min(a + b, 2 ** 31)]) counts[s] = a;
  const lengths = codeLengths(counts);
  assert.ok(Math.max(...lengths) <= MAX_BITS);
  const src = new Uint8Array(5000);
  for (let i = 0; i < src.length; i++) src[i] = i % 40;
  const back = new Uint8Array(src.length);
  huffmanDecode(encode(src), back);
  assert.deepEqual(back, src);
});

Deno.test("huffman: fast mode codes a BF16 exponent plane with it, and decodes it back", () => {
  const raw = normalBf16(new Rng(7), 65536);
  const stored = encodeChunk(raw, planeLayout("BF16"), { mode: "fast" });
  assert.equal(stored[1 + PLANE_ENTRY_BYTES], CODEC_HUFFMAN);
  const out = new Uint8Array(raw.length);
  decodeChunk(
    stored,
    {
      storedLength: stored.length,
      rawLength: raw.length,
      storedXxh32: xxh32(stored),
      rawXxh32: xxh32(raw),
    },
    planeLayout("BF16"),
    out,
  );
  assert.deepEqual(out, raw);
});

Deno.test("huffman: truncated, extended and bit-flipped payloads are typed errors", () => {
  const rng = new Rng(3);
  const src = Uint8Array.from(
    { length: 4001 },
    () => Math.min(255, Math.floor(-Math.log2(rng.float() + 1e-9))),
  );
  src[0] = 0, src[1] = 1;
  const good = encode(src);
  const out = new Uint8Array(src.length);
  for (let cut = 0; cut < good.length; cut += Math.max(1, good.length >> 6)) {
    assertCodecError(() => huffmanDecode(good.subarray(0, cut), out), "truncated", "corrupt");
  }
  const longer = new Uint8Array(good.length + 1);
  longer.set(good);
  assertCodecError(() => huffmanDecode(longer, out), "truncated", "corrupt");
  for (let k = 0; k < 400; k++) {
    const bad = good.slice();
    bad[rng.int(bad.length)] ^= 1 << rng.int(8);
    // A flip may still decode (to other symbols); the chunk checksum catches that. It must never
    // throw anything but a CodecError.
    decodesOrCodecError(() => huffmanDecode(bad, out), "truncated", "corrupt");
  }
});

Deno.test("huffman: incomplete or over-full code lengths are refused", () => {
  const src = Uint8Array.from({ length: 100 }, (_, i) => i % 3);
  const good = encode(src);
  const bad = good.slice();
  bad[1] = 0x11; // symbols 0 and 1 both 1 bit long, plus symbol 2: over-full
  assertCodecError(() => huffmanDecode(bad, new Uint8Array(100)), "corrupt");
  const lone = good.slice();
  lone[0] = 0, lone[1] = 0x01; // one symbol of length 1: incomplete
  assertCodecError(() => huffmanDecode(lone, new Uint8Array(100)), "corrupt", "truncated");
});
