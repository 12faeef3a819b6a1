/**
 * Property tests for quantised tensors: random FP8 (E4M3 and E5M2, with NaNs, infinities and
 * saturated values), INT8 and packed INT4 (I32 and U8) chunks round-trip exactly in both modes, in
 * TypeScript and in the native kernel, and whole files through pack and unpack.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeChunk, type Mode } from "../../codec/chunk_encode.ts";
import { decodeChunk } from "../../codec/chunk_decode.ts";
import { loadPortableZstd } from "../../codec/zstd_decode.ts";
import { type Dtype, planeLayout } from "../../codec/dtype.ts";
import { xxh32 } from "../../codec/xxh32.ts";
import { loadNativeLibrary } from "../../src/codec_native/kernel.ts";
import { KERNEL_FALLBACK } from "../../src/container/backends.ts";
import { nativeZstdCompress } from "../../src/codec_native/zstd.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { toFp8 } from "../../bench/inputs/fp8.ts";
import { safetensorsBytes } from "../../bench/inputs/safetensors_file.ts";
import { openBytes, packBytes, readOriginal, withTempDir } from "../helpers/container.ts";

const nativeBatch = loadNativeLibrary()?.batch;
// decodeChunk falls back to the portable zstd decoder (zstddec), which loads asynchronously.
await loadPortableZstd();

/** Special FP8 bit patterns: NaNs, infinities (E5M2), saturated maxima, zeros, subnormals. */
const SPECIALS: Record<"F8_E4M3" | "F8_E5M2", number[]> = {
  F8_E4M3: [0x7f, 0xff, 0x7e, 0xfe, 0x00, 0x80, 0x01, 0x81, 0x07, 0x87],
  F8_E5M2: [0x7c, 0xfc, 0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff, 0x7b, 0xfb, 0x00, 0x80, 0x01, 0x83],
};

/** FP8 tensors: absmax-scaled normal weights (as the bench makes them) mixed with specials. */
function fp8Tensor(dtype: "F8_E4M3" | "F8_E5M2") {
  const format = dtype === "F8_E4M3" ? "E4M3" : "E5M2";
  const max = format === "E4M3" ? 448 : 57344;
  return fc.tuple(
    fc.array(fc.double({ min: -1, max: 1, noNaN: true }), {
      minLength: 1,
      maxLength: 3000,
      size: "max",
    }),
    fc.array(fc.constantFrom(...SPECIALS[dtype]), { maxLength: 40, size: "max" }),
    fc.nat(),
  ).map(([values, specials, seed]) => {
    const out = Uint8Array.from(values, (v) => toFp8(v * v * v * max, format));
    specials.forEach((b, i) => out[(seed + 7919 * i) % out.length] = b);
    return out;
  });
}

/** INT8 rows quantised per row: every row holds ±127, the rest clusters near 0; or any bytes. */
const int8Tensor = fc.oneof(
  fc.tuple(
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.integer({ min: -40, max: 40 }), {
      minLength: 1,
      maxLength: 3000,
    }),
  ).map(([cols, values]) =>
    Uint8Array.from(values, (v, i) => (i % cols === 0 ? (v < 0 ? -127 : 127) : v) & 0xff)
  ),
  fc.uint8Array({ minLength: 1, maxLength: 2000, size: "max" }),
);

/** Packed INT4: nibbles around a per-column zero point, `width` bytes per element. */
function int4Tensor(width: 1 | 4) {
  return fc.tuple(
    fc.integer({ min: 1, max: 40 }),
    fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 2, maxLength: 8000, size: "max" }),
  ).map(([cols, deltas]) => {
    const n = Math.max(width, deltas.length - (deltas.length % (2 * width)));
    const out = new Uint8Array(n / 2);
    for (let i = 0; i < n; i++) {
      const zero = 5 + ((Math.floor(i / (2 * width)) % cols) % 6);
      out[i >> 1] |= Math.max(0, Math.min(15, zero + (deltas[i % deltas.length] ?? 0))) <<
        (4 * (i & 1));
    }
    return { bytes: out.subarray(0, out.length - (out.length % width)), cols };
  });
}

function roundTrip(raw: Uint8Array, dtype: Dtype, packed: boolean, tileCols: number): void {
  if (raw.length === 0) return;
  const layout = planeLayout(dtype, packed ? "int4" : undefined);
  for (const mode of ["fast", "best"] as Mode[]) {
    const stored = encodeChunk(raw, layout, {
      mode,
      dtype,
      tileCols,
      zstdCompress: nativeZstdCompress,
    });
    const entry = {
      storedLength: stored.length,
      rawLength: raw.length,
      storedXxh32: xxh32(stored),
      rawXxh32: xxh32(raw),
    };
    const out = new Uint8Array(raw.length);
    decodeChunk(stored, entry, layout, out, { verifyStored: true });
    assert.deepEqual(out, raw);
    if (nativeBatch) {
      const native = new Uint8Array(raw.length);
      const piece = {
        offset: 0,
        storedLength: stored.length,
        rawLength: raw.length,
        rawXxh32: entry.rawXxh32,
        layout,
        at: 0,
      };
      // The kernel leaves zstd planes to TypeScript; anything it decodes must be exact.
      const status = nativeBatch(stored, 0, [piece], native)[0];
      if (status !== KERNEL_FALLBACK) assert.equal(status, 0), assert.deepEqual(native, raw);
    }
  }
}

for (const dtype of ["F8_E4M3", "F8_E5M2"] as const) {
  Deno.test(`quantised: random ${dtype} chunks with NaN, inf and saturated values round-trip`, () => {
    fc.assert(
      fc.property(fp8Tensor(dtype), fc.integer({ min: 1, max: 300 }), (raw, cols) => {
        roundTrip(raw, dtype, false, cols);
      }),
      { numRuns: 40 },
    );
  });
}

Deno.test("quantised: random INT8 chunks round-trip", () => {
  fc.assert(
    fc.property(int8Tensor, fc.integer({ min: 1, max: 300 }), (raw, cols) => {
      roundTrip(raw, "I8", false, cols);
      roundTrip(raw, "U8", false, cols);
    }),
    { numRuns: 40 },
  );
});

Deno.test("quantised: random packed INT4 chunks round-trip, packed and as byte planes", () => {
  fc.assert(
    fc.property(int4Tensor(4), int4Tensor(1), ({ bytes, cols }, u8) => {
      for (const packed of [true, false]) {
        roundTrip(bytes, "I32", packed, cols);
        roundTrip(u8.bytes, "U8", packed, u8.cols);
      }
    }),
    { numRuns: 30 },
  );
});

Deno.test("quantised: a file of FP8, INT8 and GPTQ tensors packs and unpacks bit-exactly", async () => {
  await withTempDir(async (dir) => {
    await fc.assert(
      fc.asyncProperty(
        fp8Tensor("F8_E4M3"),
        fp8Tensor("F8_E5M2"),
        int8Tensor,
        int4Tensor(4),
        async (e4, e5, i8, q) => {
          const cols = 8, words = q.bytes.length / 4, rows = Math.floor(words / cols);
          if (rows === 0) return;
          const qweight = q.bytes.subarray(0, rows * cols * 4);
          const src = safetensorsBytes([
            { name: "a.weight", dtype: "F8_E4M3", shape: [e4.length], data: e4 },
            { name: "b.weight", dtype: "F8_E5M2", shape: [e5.length], data: e5 },
            { name: "c.weight", dtype: "I8", shape: [i8.length], data: i8 },
            { name: "d.qweight", dtype: "I32", shape: [rows, cols], data: qweight },
          ], { format: "pt" });
          for (const mode of ["fast", "best"] as const) {
            const { bytes, index } = await packBytes(src, dir, { mode, chunkBytes: 1024 });
            const c = await openBytes(bytes);
            assert.deepEqual(await readOriginal(c), src);
            const d = index.tensors.find((t) => t.name === "d.qweight")!;
            assert.ok([undefined, "int4"].includes(losslessOf(d).layout.packing));
          }
        },
      ),
      { numRuns: 8 },
    );
  });
});
