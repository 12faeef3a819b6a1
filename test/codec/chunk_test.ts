import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeChunk, type EncodeOptions, encodeScratch } from "../../codec/chunk_encode.ts";
import {
  type ChunkEntry,
  decodeChunk,
  decodeChunkBytes,
  type DecodeOptions,
} from "../../codec/chunk_decode.ts";
import {
  type Dtype,
  DTYPES,
  dtypeWidth,
  type PlaneLayout,
  planeLayout,
} from "../../codec/dtype.ts";
import {
  CODEC_CONST,
  CODEC_RANS,
  CODEC_RAW,
  CODEC_ZSTD,
  PLANE_ENTRY_BYTES,
} from "../../codec/plane_codec.ts";
import { SCALE_TOTAL } from "../../codec/rans/constants.ts";
import { xxh32 } from "../../codec/xxh32.ts";
import { loadPortableZstd, portableZstdDecompress } from "../../codec/zstd_decode.ts";
import { nativeZstdCompress, nativeZstdDecompress } from "../../src/codec_native/zstd.ts";
import { assertCodecError, decodesOrCodecError } from "./assert_codec_error.ts";
import { atOffset, normalBf16, normalBf16OriginF32, Rng } from "./prng.ts";

// Decodes without an injected Zstandard decoder use the portable one, loaded once here.
await loadPortableZstd();

// ---------------------------------------------------------------------------------------------
// Helpers

const ENCODERS: [string, EncodeOptions][] = [
  ["fast+native", { mode: "fast", zstdCompress: nativeZstdCompress }],
  ["fast+none", { mode: "fast" }],
  ["best+native", { mode: "best", zstdCompress: nativeZstdCompress }],
  ["best+none", { mode: "best" }],
];

const DECODERS: [string, DecodeOptions][] = [
  ["portable(default)", {}],
  ["portable", { zstdDecompress: portableZstdDecompress }],
  ["native", { zstdDecompress: nativeZstdDecompress }],
];

const BOTH_DECODERS = DECODERS.slice(1);

function entryFor(stored: Uint8Array, raw: Uint8Array): ChunkEntry {
  return {
    storedLength: stored.length,
    rawLength: raw.length,
    storedXxh32: xxh32(stored),
    rawXxh32: xxh32(raw),
  };
}

/** The codec id of every plane of a chunk. */
function planeCodecs(stored: Uint8Array): number[] {
  return Array.from({ length: stored[0] }, (_, p) => stored[1 + p * PLANE_ENTRY_BYTES]);
}

/** Hand-builds a chunk from plane codec ids and payloads. */
function buildChunk(planes: [number, Uint8Array][], trailing = new Uint8Array(0)): Uint8Array {
  const header = 1 + planes.length * PLANE_ENTRY_BYTES;
  const total = header + planes.reduce((a, [, p]) => a + p.length, 0) + trailing.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = planes.length;
  let pos = header;
  planes.forEach(([codec, payload], p) => {
    out[1 + p * PLANE_ENTRY_BYTES] = codec;
    view.setUint32(2 + p * PLANE_ENTRY_BYTES, payload.length, true);
    out.set(payload, pos);
    pos += payload.length;
  });
  out.set(trailing, pos);
  return out;
}

/**
 * Encodes `raw` with every encoder and decodes with every decoder, through both entry points and
 * into an aligned and a misaligned output. Returns the encodings.
 */
function roundTripAll(raw: Uint8Array, dtype: Dtype, label: string): Uint8Array[] {
  const layout = planeLayout(dtype);
  const original = raw.slice();
  const encodings: Uint8Array[] = [];
  for (const [encName, encOpts] of ENCODERS) {
    const stored = encodeChunk(raw, layout, encOpts);
    assert.deepEqual(raw, original, "encoding must not modify its input");
    encodings.push(stored);
    assert.equal(stored[0], layout.width);
    const codecs = planeCodecs(stored);
    if (!encOpts.zstdCompress) assert.ok(!codecs.includes(CODEC_ZSTD), "zstd without an encoder");
    const entry = entryFor(stored, raw);
    for (const [decName, decOpts] of DECODERS) {
      const where = `${label} ${dtype} ${encName} -> ${decName} (codecs ${codecs})`;
      for (const offset of [0, 1]) {
        const out = atOffset(new Uint8Array(raw.length).fill(0x5a), offset);
        try {
          decodeChunk(stored, entry, layout, out, decOpts);
        } catch (e) {
          throw new Error(`${where}: ${(e as Error).message}`);
        }
        assert.deepEqual(out, raw, where);
      }
      const plain: Uint8Array = new Uint8Array(raw.length);
      decodeChunkBytes(atOffset(stored, 3), layout, plain, decOpts);
      assert.deepEqual(plain, raw, `${where} (decodeChunkBytes)`);
    }
  }
  return encodings;
}

/** Builds a tensor of `n` elements of `width` bytes from little-endian element values. */
function elements(width: number, values: bigint[]): Uint8Array {
  const out = new Uint8Array(values.length * width);
  values.forEach((v, i) => {
    for (let b = 0; b < width; b++) out[i * width + b] = Number((v >> BigInt(8 * b)) & 0xffn);
  });
  return out;
}

/** Bit patterns worth round-tripping for each dtype: NaNs with payloads, infinities, -0, etc. */
const SPECIALS: Record<Dtype, bigint[]> = {
  BOOL: [0n, 1n],
  U8: [0n, 1n, 0x7fn, 0x80n, 0xffn],
  I8: [0n, 0x7fn, 0x80n, 0xffn],
  // E5M2: +-inf 0x7C/0xFC, NaNs 0x7D..0x7F/0xFF, -0 0x80, subnormals 0x01..0x03.
  F8_E5M2: [0x7cn, 0xfcn, 0x7dn, 0x7fn, 0xffn, 0x80n, 0x00n, 0x01n, 0x83n, 0x7bn],
  // E4M3 (fn): NaN 0x7F/0xFF, -0 0x80, subnormals 0x01..0x07, max 0x7E.
  F8_E4M3: [0x7fn, 0xffn, 0x80n, 0x00n, 0x01n, 0x87n, 0x7en, 0xfen],
  I16: [0n, 0x7fffn, 0x8000n, 0xffffn, 1n],
  U16: [0n, 0xffffn, 0x8000n, 1n],
  // F16: +-inf, NaNs with payloads, -0, subnormals, max.
  F16: [0x7c00n, 0xfc00n, 0x7e01n, 0x7c01n, 0xffffn, 0x8000n, 0x0001n, 0x83ffn, 0x7bffn, 0x3c00n],
  // BF16: NaNs 0x7FC1 / 0xFFFF / 0x7F81 (signalling), +-inf, -0, subnormals, 1.0, -2.0.
  BF16: [
    0x7fc1n,
    0xffffn,
    0x7f81n,
    0x7fc0n,
    0x7f80n,
    0xff80n,
    0x8000n,
    0x0000n,
    0x0001n,
    0x807fn,
    0x3f80n,
    0xc000n,
  ],
  I32: [0n, 0x7fffffffn, 0x80000000n, 0xffffffffn],
  U32: [0n, 0xffffffffn, 0x80000000n],
  F32: [
    0x7fa00001n,
    0x7fc00000n,
    0xffffffffn,
    0x7f800001n,
    0x7f800000n,
    0xff800000n,
    0x80000000n,
    0x00000000n,
    0x00000001n,
    0x807fffffn,
    0x3f800000n,
    0x7f7fffffn,
  ],
  F64: [
    0x7ff0000000000001n,
    0x7ff8000000000000n,
    0xfff8000000000001n,
    0xffffffffffffffffn,
    0x7ff0000000000000n,
    0xfff0000000000000n,
    0x8000000000000000n,
    0x0000000000000001n,
    0x800fffffffffffffn,
    0x3ff0000000000000n,
  ],
  I64: [0n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn],
  U64: [0n, 0xffffffffffffffffn, 1n],
};

/** Plausible "ordinary" element values for the dtype, as raw bytes. */
function ordinary(rng: Rng, dtype: Dtype, n: number): Uint8Array {
  switch (dtype) {
    case "BF16":
      return normalBf16(rng, n);
    case "F32":
      return rng.int(2) ? normalBf16OriginF32(rng, n) : new Uint8Array(
        Float32Array.from({ length: n }, () => rng.normal() * 0.05).buffer,
      );
    case "F64":
      return new Uint8Array(Float64Array.from({ length: n }, () => rng.normal()).buffer);
    case "F16": // small normals: exponent near 0x0F, random mantissa
      return elements(
        2,
        Array.from(
          { length: n },
          () => BigInt((rng.int(2) << 15) | ((10 + rng.int(5)) << 10) | rng.int(1024)),
        ),
      );
    case "BOOL":
      return Uint8Array.from({ length: n }, () => rng.int(2));
    default:
      return rng.bytes(n * dtypeWidth(dtype));
  }
}

/** `n` elements drawn from the dtype's specials, mixed into ordinary values at rate `rate`. */
function withSpecials(rng: Rng, dtype: Dtype, n: number, rate: number): Uint8Array {
  const width = dtypeWidth(dtype), specials = SPECIALS[dtype];
  const out = ordinary(rng, dtype, n);
  for (let i = 0; i < n; i++) {
    if (rng.float() < rate) {
      out.set(elements(width, [specials[rng.int(specials.length)]]), i * width);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Round trips

Deno.test("chunk: round trip of random bytes for every dtype, mode, encoder and decoder", () => {
  const rng = new Rng(1);
  for (const dtype of DTYPES) {
    const width = dtypeWidth(dtype);
    for (const n of [0, 1, 2, 3, 5, 17, 256, 3001]) {
      roundTripAll(rng.bytes(n * width), dtype, "random");
    }
  }
});

Deno.test("chunk: round trip of special float values (NaN payloads, inf, -0, subnormals)", () => {
  const rng = new Rng(2);
  for (const dtype of DTYPES) {
    const width = dtypeWidth(dtype), specials = SPECIALS[dtype];
    // Each special alone, repeated (constant planes), and all of them in a row.
    for (const v of specials) {
      roundTripAll(elements(width, [v]), dtype, `special ${v.toString(16)} x1`);
      roundTripAll(
        elements(width, new Array(100).fill(v)),
        dtype,
        `special ${v.toString(16)} x100`,
      );
    }
    roundTripAll(elements(width, specials), dtype, "all specials");
    // Mixed into ordinary values, sparsely and densely.
    for (const [n, rate] of [[1000, 0.01], [1000, 0.5], [5000, 0.001]]) {
      roundTripAll(withSpecials(rng, dtype, n, rate), dtype, `specials at ${rate}`);
    }
  }
});

Deno.test("chunk: round trip of ordinary weights and structured data", () => {
  const rng = new Rng(3);
  for (const dtype of DTYPES) {
    const width = dtypeWidth(dtype);
    roundTripAll(ordinary(rng, dtype, 4096), dtype, "ordinary");
    roundTripAll(new Uint8Array(1000 * width), dtype, "zeros");
    roundTripAll(new Uint8Array(1000 * width).fill(0xff), dtype, "ones");
    // A short pattern repeated: the case where zstd beats order-0 rANS.
    const pattern = rng.bytes(24 * width);
    const repeated = new Uint8Array(pattern.length * 100);
    for (let i = 0; i < 100; i++) repeated.set(pattern, i * pattern.length);
    roundTripAll(repeated, dtype, "repeated");
  }
});

Deno.test("chunk: round trip of fast-check inputs for every dtype", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...DTYPES),
      fc.uint8Array({ maxLength: 512 }),
      fc.constantFrom(...ENCODERS),
      (dtype, bytes, [, enc]) => {
        const width = dtypeWidth(dtype), layout = planeLayout(dtype);
        const raw = bytes.subarray(0, bytes.length - bytes.length % width);
        const stored = encodeChunk(raw, layout, enc);
        for (const [, dec] of BOTH_DECODERS) {
          const out = new Uint8Array(raw.length);
          decodeChunk(stored, entryFor(stored, raw), layout, out, dec);
          assert.deepEqual(out, raw);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("chunk: every plane codec is chosen somewhere and round trips", () => {
  const rng = new Rng(9);
  const repeated = new Uint8Array(3000);
  for (let i = 0; i < repeated.length; i++) repeated[i] = [1, 2, 3, 5, 8, 13, 21][i % 7];
  const seen = new Set<number>();
  const inputs: [Dtype, Uint8Array][] = [
    ["F32", normalBf16OriginF32(rng, 2000)], // const + rANS + raw
    ["U8", repeated], // zstd
    ["I32", rng.bytes(4000)], // raw
  ];
  for (const [dtype, raw] of inputs) {
    for (const stored of roundTripAll(raw, dtype, "codec coverage")) {
      planeCodecs(stored).forEach((c) => seen.add(c));
    }
  }
  for (const c of [CODEC_RAW, CODEC_CONST, CODEC_RANS, CODEC_ZSTD]) {
    assert.ok(seen.has(c), `codec ${c} never chosen`);
  }
});

Deno.test("chunk: encoding a misaligned view matches encoding an aligned copy", () => {
  const rng = new Rng(4);
  for (const dtype of ["BF16", "F32", "F64", "U8"] as const) {
    const raw = withSpecials(rng, dtype, 777, 0.1);
    for (const [, enc] of ENCODERS) {
      const want = encodeChunk(raw, planeLayout(dtype), enc);
      for (const off of [1, 2, 3]) {
        assert.deepEqual(encodeChunk(atOffset(raw, off), planeLayout(dtype), enc), want);
      }
    }
  }
});

Deno.test("chunk: reusable scratch and slots give the same results", () => {
  const rng = new Rng(5);
  const scratch = new Uint8Array(1 << 16).fill(0x33), slots = new Int32Array(SCALE_TOTAL);
  for (const dtype of ["BF16", "F32", "F16", "I64", "U8"] as const) {
    for (const n of [10, 999, 4000]) {
      const raw = withSpecials(rng, dtype, n, 0.05);
      const layout = planeLayout(dtype);
      for (const [, enc] of ENCODERS) {
        const stored = encodeChunk(raw, layout, enc);
        for (const [, dec] of BOTH_DECODERS) {
          const out = new Uint8Array(raw.length);
          decodeChunk(stored, entryFor(stored, raw), layout, out, { ...dec, scratch, slots });
          assert.deepEqual(out, raw);
        }
      }
    }
  }
  // A scratch that is too small is ignored rather than overrun.
  const raw = normalBf16(rng, 1000);
  const stored = encodeChunk(raw, planeLayout("BF16"), { mode: "best" });
  const small = new Uint8Array(10);
  const out = new Uint8Array(raw.length);
  decodeChunk(stored, entryFor(stored, raw), planeLayout("BF16"), out, { scratch: small });
  assert.deepEqual(out, raw);
  assert.ok(small.every((b) => b === 0));
});

// ---------------------------------------------------------------------------------------------
// Plane codec choice and size

Deno.test("chunk: BF16-origin F32 gets constant low planes and is >= 1.9x smaller", () => {
  const raw = normalBf16OriginF32(new Rng(6), 65536);
  const layout = planeLayout("F32");
  for (const [name, enc] of ENCODERS) {
    const stored = encodeChunk(raw, layout, enc);
    const codecs = planeCodecs(stored);
    assert.equal(codecs[0], CODEC_CONST, `${name}: plane 0`);
    assert.equal(codecs[1], CODEC_CONST, `${name}: plane 1`);
    // A constant plane stores its one byte.
    const view = new DataView(stored.buffer, stored.byteOffset);
    assert.equal(view.getUint32(2, true), 1);
    assert.equal(view.getUint32(2 + PLANE_ENTRY_BYTES, true), 1);
    assert.equal(stored[1 + 4 * PLANE_ENTRY_BYTES], 0);
    assert.equal(stored[1 + 4 * PLANE_ENTRY_BYTES + 1], 0);
    const ratio = raw.length / stored.length;
    assert.ok(ratio >= 1.9, `${name}: ratio ${ratio.toFixed(3)}`);
    for (const [, dec] of BOTH_DECODERS) {
      const out = new Uint8Array(raw.length);
      decodeChunk(stored, entryFor(stored, raw), layout, out, dec);
      assert.deepEqual(out, raw);
    }
  }
});

Deno.test("chunk: BF16 weights compress; random bytes stay raw; mode choices hold", () => {
  const rng = new Rng(7);
  const bf16 = normalBf16(rng, 65536);
  for (const [name, enc] of ENCODERS) {
    const stored = encodeChunk(bf16, planeLayout("BF16"), enc);
    assert.ok(bf16.length / stored.length > 1.3, `${name}: ${bf16.length / stored.length}`);
    const codecs = planeCodecs(stored);
    assert.notEqual(codecs[1], CODEC_RAW, `${name}: the exponent plane must be coded`);
  }
  const random = rng.bytes(40000);
  for (const [name, enc] of ENCODERS) {
    const stored = encodeChunk(random, planeLayout("F32"), enc);
    assert.deepEqual(planeCodecs(stored), [0, 0, 0, 0], name);
    assert.equal(stored.length, random.length + 1 + 4 * PLANE_ENTRY_BYTES);
  }
});

Deno.test("chunk: empty and one-element chunks", () => {
  for (const dtype of DTYPES) {
    const layout = planeLayout(dtype), width = layout.width;
    for (const [, enc] of ENCODERS) {
      const empty = encodeChunk(new Uint8Array(0), layout, enc);
      assert.equal(empty.length, 1 + width * PLANE_ENTRY_BYTES);
      assert.deepEqual(planeCodecs(empty), new Array(width).fill(CODEC_RAW));
      const one = encodeChunk(new Uint8Array(width).fill(0x81), layout, enc);
      assert.deepEqual(planeCodecs(one), new Array(width).fill(CODEC_CONST));
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Corruption

/** Small chunks covering every plane codec, for exhaustive corruption loops. */
function corpus(): { dtype: Dtype; raw: Uint8Array; stored: Uint8Array }[] {
  const rng = new Rng(8);
  const items: { dtype: Dtype; raw: Uint8Array; stored: Uint8Array }[] = [];
  const add = (dtype: Dtype, raw: Uint8Array, enc: EncodeOptions) =>
    items.push({ dtype, raw, stored: encodeChunk(raw, planeLayout(dtype), enc) });
  add("BF16", withSpecials(rng, "BF16", 150, 0.05), { mode: "best" }); // rANS + raw
  add("F32", normalBf16OriginF32(rng, 100), { mode: "best" }); // const + rANS + raw
  add("BF16", normalBf16(rng, 150), { mode: "fast", zstdCompress: nativeZstdCompress }); // fast mode
  const rep = new Uint8Array(400);
  for (let i = 0; i < rep.length; i++) rep[i] = [1, 2, 3, 5, 8, 13][i % 6];
  add("U8", rep, { mode: "best", zstdCompress: nativeZstdCompress }); // width 1, zstd
  add("I16", rng.bytes(60), { mode: "best" }); // raw
  const codecs = new Set(items.flatMap((it) => planeCodecs(it.stored)));
  for (const c of [CODEC_RAW, CODEC_CONST, CODEC_RANS, CODEC_ZSTD]) {
    assert.ok(codecs.has(c), `corpus lacks codec ${c}`);
  }
  return items;
}

Deno.test("chunk corruption: any single-byte change fails decodeChunk with checksum_mismatch", () => {
  for (const { dtype, raw, stored } of corpus()) {
    const entry = entryFor(stored, raw), layout = planeLayout(dtype);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < stored.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = stored.slice();
        bad[i] ^= mask;
        for (const [, dec] of BOTH_DECODERS) {
          const err = assertCodecError(
            () => decodeChunk(bad, entry, layout, out, { ...dec, verifyStored: true }),
            "checksum_mismatch",
          );
          assert.match(err.message, /stored bytes/);
        }
      }
    }
  }
});

Deno.test("chunk corruption: without verifyStored, a changed byte never yields wrong output", () => {
  let silent = 0, total = 0;
  for (const { dtype, raw, stored } of corpus()) {
    const entry = entryFor(stored, raw), layout = planeLayout(dtype);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < stored.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = stored.slice();
        bad[i] ^= mask;
        for (const [, dec] of BOTH_DECODERS) {
          total++;
          // Bits that decoding never looks at (e.g. the padding after a rANS frequency table) may
          // change without harm; anything else must be caught, at the latest by the raw checksum.
          if (decodesOrCodecError(() => decodeChunk(bad, entry, layout, out, dec))) {
            assert.deepEqual(out, raw, `byte ${i} ^ ${mask}: returned wrong bytes`);
            silent++;
          }
        }
      }
    }
  }
  assert.ok(silent < total * 0.05, `${silent} of ${total} changes went unnoticed`);
});

Deno.test("chunk corruption: single-byte changes in decodeChunkBytes throw CodecError or decode", () => {
  for (const { dtype, raw, stored } of corpus()) {
    const layout = planeLayout(dtype);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < stored.length; i++) {
      for (const mask of [0x01, 0x10, 0x80, 0xff]) {
        const bad = stored.slice();
        bad[i] ^= mask;
        for (const [, dec] of BOTH_DECODERS) {
          decodesOrCodecError(() => decodeChunkBytes(bad, layout, out, dec));
        }
      }
    }
  }
});

Deno.test("chunk corruption: random byte strings never throw anything but CodecError", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...DTYPES),
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 0, max: 300 }),
      fc.boolean(),
      (dtype, junk, n, withHeader) => {
        const layout = planeLayout(dtype);
        // Half the time give the junk a plausible plane count so it reaches the plane decoders.
        const stored = withHeader ? Uint8Array.of(layout.width, ...junk) : junk;
        const out = new Uint8Array(n * layout.width);
        for (const [, dec] of BOTH_DECODERS) {
          decodesOrCodecError(() => decodeChunkBytes(stored, layout, out, dec));
        }
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("chunk corruption: truncated chunks throw CodecError truncated", () => {
  for (const { dtype, raw, stored } of corpus()) {
    const entry = entryFor(stored, raw), layout = planeLayout(dtype);
    const out = new Uint8Array(raw.length);
    for (let len = 0; len < stored.length; len++) {
      const cut = stored.subarray(0, len);
      for (const [, dec] of BOTH_DECODERS) {
        assertCodecError(() => decodeChunk(cut, entry, layout, out, dec), "truncated");
        // Even with an index that agrees with the cut bytes, the structure is incomplete.
        const cutEntry = { ...entry, storedLength: len, storedXxh32: xxh32(cut) };
        assertCodecError(() => decodeChunk(cut, cutEntry, layout, out, dec), "truncated");
        assertCodecError(() => decodeChunkBytes(cut, layout, out, dec), "truncated");
      }
    }
  }
});

Deno.test("chunk corruption: unknown codec ids", () => {
  for (const { dtype, raw, stored } of corpus()) {
    const layout = planeLayout(dtype);
    const out = new Uint8Array(raw.length);
    for (let p = 0; p < layout.width; p++) {
      for (const id of [7, 9, 0x80, 0xff]) {
        const bad = stored.slice();
        bad[1 + p * PLANE_ENTRY_BYTES] = id;
        for (const [, dec] of BOTH_DECODERS) {
          // An index written for these bytes passes the stored checksum and reaches the plane table.
          const entry = entryFor(bad, raw);
          const err = assertCodecError(
            () => decodeChunk(bad, entry, layout, out, dec),
            "unknown_codec",
          );
          assert.match(err.message, new RegExp(`codec id ${id}`));
          assertCodecError(() => decodeChunkBytes(bad, layout, out, dec), "unknown_codec");
        }
      }
    }
  }
});

Deno.test("chunk corruption: plane count and layout mismatches are corrupt", () => {
  for (const { dtype, raw, stored } of corpus()) {
    const layout = planeLayout(dtype);
    const out = new Uint8Array(raw.length);
    for (const count of [0, layout.width - 1, layout.width + 1, 255]) {
      if (count === layout.width) continue;
      const bad = stored.slice();
      bad[0] = count;
      assertCodecError(() => decodeChunk(bad, entryFor(bad, raw), layout, out), "corrupt");
      assertCodecError(() => decodeChunkBytes(bad, layout, out), "corrupt");
    }
    // Decoding with another dtype's layout: different width.
    const other: PlaneLayout = { width: layout.width === 2 ? 4 : 2, signMoved: false };
    const otherOut = new Uint8Array(raw.length - raw.length % other.width);
    assertCodecError(() => decodeChunkBytes(stored, other, otherOut), "corrupt");
    // An output that is not a whole number of elements.
    if (layout.width > 1) {
      assertCodecError(
        () => decodeChunkBytes(stored, layout, new Uint8Array(raw.length + 1)),
        "corrupt",
      );
    }
  }
});

Deno.test("chunk corruption: index mismatches", () => {
  const { dtype, raw, stored } = corpus()[1];
  const layout = planeLayout(dtype), entry = entryFor(stored, raw);
  const out = new Uint8Array(raw.length);
  assertCodecError(
    () => decodeChunk(stored, { ...entry, storedLength: stored.length + 1 }, layout, out),
    "truncated",
  );
  const badStored = { ...entry, storedXxh32: (entry.storedXxh32 ^ 1) >>> 0 };
  assertCodecError(
    () => decodeChunk(stored, badStored, layout, out, { verifyStored: true }),
    "checksum_mismatch",
  );
  // The stored checksum is only consulted on request; the raw one always is.
  decodeChunk(stored, badStored, layout, out);
  assert.deepEqual(out, raw);
  decodeChunk(stored, entry, layout, out, { verifyStored: true });
  assert.deepEqual(out, raw);
  const err = assertCodecError(
    () => decodeChunk(stored, { ...entry, rawXxh32: (entry.rawXxh32 ^ 1) >>> 0 }, layout, out),
    "checksum_mismatch",
  );
  assert.match(err.message, /decoded bytes/);
  // The output is still the correct decoding: only the index was wrong.
  assert.deepEqual(out, raw);
});

Deno.test("chunk corruption: hand-built chunks with inconsistent plane payloads", () => {
  const u8: PlaneLayout = planeLayout("U8"), bf16 = planeLayout("BF16");
  const out8 = new Uint8Array(8), out16 = new Uint8Array(8);
  const cases: [string, Uint8Array, PlaneLayout, Uint8Array][] = [
    ["raw too short", buildChunk([[CODEC_RAW, new Uint8Array(7)]]), u8, out8],
    ["raw too long", buildChunk([[CODEC_RAW, new Uint8Array(9)]]), u8, out8],
    ["const empty", buildChunk([[CODEC_CONST, new Uint8Array(0)]]), u8, out8],
    ["const two bytes", buildChunk([[CODEC_CONST, Uint8Array.of(1, 2)]]), u8, out8],
    ["rans empty", buildChunk([[CODEC_RANS, new Uint8Array(0)]]), u8, out8],
    ["zstd empty", buildChunk([[CODEC_ZSTD, new Uint8Array(0)]]), u8, out8],
    ["zstd garbage", buildChunk([[CODEC_ZSTD, Uint8Array.of(1, 2, 3, 4, 5, 6)]]), u8, out8],
    [
      "trailing bytes",
      buildChunk([[CODEC_CONST, Uint8Array.of(7)]], Uint8Array.of(0)),
      u8,
      out8,
    ],
    [
      "second plane raw too short",
      buildChunk([[CODEC_CONST, Uint8Array.of(7)], [CODEC_RAW, new Uint8Array(3)]]),
      bf16,
      out16,
    ],
  ];
  for (const [name, chunk, layout, out] of cases) {
    for (const [, dec] of BOTH_DECODERS) {
      try {
        assertCodecError(() => decodeChunkBytes(chunk, layout, out, dec), "corrupt", "truncated");
      } catch (e) {
        throw new Error(`${name}: ${(e as Error).message}`);
      }
    }
  }
  // A plane length pointing past the end is truncation, even a huge one.
  const huge = buildChunk([[CODEC_RAW, new Uint8Array(8)]]);
  new DataView(huge.buffer).setUint32(2, 0xffffffff, true);
  assertCodecError(() => decodeChunkBytes(huge, u8, out8), "truncated");
  // Hand-built valid chunks decode.
  const ok = buildChunk([[CODEC_CONST, Uint8Array.of(0x80)], [
    CODEC_RAW,
    Uint8Array.of(1, 2, 3, 4),
  ]]);
  decodeChunkBytes(ok, bf16, out16);
  // Planes: [0x80 x4] (sign|mantissa) and [1,2,3,4] (exponent) -> sign set, exponent e.
  assert.deepEqual(
    Array.from(new Uint16Array(out16.buffer)),
    [1, 2, 3, 4].map((e) => 0x8000 | (e << 7)),
  );
});

Deno.test("chunk corruption: a zstd plane inflating to the wrong length (native) is corrupt", () => {
  const plane = Uint8Array.from({ length: 100 }, (_, i) => i % 7);
  const chunk = buildChunk([[CODEC_ZSTD, nativeZstdCompress(plane, 3)]]);
  for (const n of [50, 99, 101, 200]) {
    assertCodecError(
      () => decodeChunkBytes(chunk, planeLayout("U8"), new Uint8Array(n), BOTH_DECODERS[1][1]),
      "corrupt",
    );
  }
});

// The portable decoder is given the expected size, so the frame header's declared content size is
// what catches a wrong length.
Deno.test({
  name: "chunk corruption: portable zstd rejects frames of the wrong length",
  fn() {
    const plane = Uint8Array.from({ length: 100 }, (_, i) => i % 7);
    const frame = nativeZstdCompress(plane, 3);
    for (const n of [50, 99, 101, 200]) {
      assertCodecError(() => portableZstdDecompress(frame, n), "corrupt");
    }
  },
});

// node:zlib's zstdDecompressSync stops after the first frame; the frame walk makes trailing bytes
// an error in both decoders alike.
Deno.test({
  name: "chunk corruption: both zstd decoders reject bytes after the frames",
  fn() {
    const plane = Uint8Array.from({ length: 100 }, (_, i) => i % 7);
    const frame = nativeZstdCompress(plane, 3);
    const padded = Uint8Array.of(...frame, 1, 2, 3);
    assertCodecError(() => portableZstdDecompress(padded, 100), "corrupt");
    assertCodecError(() => nativeZstdDecompress(padded, 100), "corrupt");
  },
});

Deno.test("encodeChunk: reused scratch gives the same bytes as fresh buffers, chunk after chunk", () => {
  const rng = new Rng(41), scratch = encodeScratch();
  const items: { raw: Uint8Array; dtype: "BF16" | "F32" | "F16" | "U8" }[] = [
    { raw: normalBf16(rng, 5000), dtype: "BF16" },
    { raw: normalBf16OriginF32(rng, 70), dtype: "F32" },
    { raw: normalBf16(rng, 40000), dtype: "BF16" }, // larger: the buffers grow
    { raw: rng.bytes(333), dtype: "U8" },
    { raw: normalBf16(rng, 6), dtype: "F16" },
    { raw: normalBf16(rng, 9000), dtype: "BF16" }, // smaller again: views of larger buffers
  ];
  for (const mode of ["fast", "best"] as const) {
    for (const { raw, dtype } of items) {
      const options = { mode, zstdCompress: nativeZstdCompress };
      const fresh = encodeChunk(raw, planeLayout(dtype), options);
      assert.deepEqual(encodeChunk(raw, planeLayout(dtype), { ...options, scratch }), fresh);
    }
  }
});
