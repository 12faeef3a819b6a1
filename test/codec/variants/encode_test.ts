import assert from "node:assert/strict";
import { chunksFor, type LossyEncoding } from "../../../codec/variants/encoding.ts";
import { chunkEntry, decodeVariantChunk } from "../../../codec/variants/chunk_decode.ts";
import { dequantiseRegion } from "../../../codec/variants/dequantise.ts";
import { encodeVariant } from "../../../codec/variants/encode.ts";
import { fromFloat32 } from "../../../codec/variants/float.ts";
import { parseSpec, specName } from "../../../codec/variants/spec.ts";
import type { Dtype } from "../../../codec/dtype.ts";
import { matrixShape } from "../../../codec/tiles.ts";
import { Rng } from "../prng.ts";
import { assertCodecError } from "../assert_codec_error.ts";
import { loadPortableZstd } from "../../../codec/zstd_decode.ts";

// Decodes without an injected Zstandard decoder use the portable one, loaded once here.
await loadPortableZstd();

const SPECS = [
  "int8",
  "int8:asym",
  "int8:g8",
  "int8:asym:g16:f32",
  "fp16",
  "bf16",
  "ternary:1",
  "ternary:2:g8",
  "ternary:3",
  "ternary:3:greedy",
  "ternary:4:base3",
  "ternary:3:g16:base3",
  "svd:energy=0.9",
  "svd:ratio=3:bf16",
  "sparse:0.5",
  "sparse:keep=0.9",
];

function tensor(rng: Rng, dtype: Dtype, shape: number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * (1 + (i % 7));
  const width = dtype === "F64" ? 8 : dtype === "F32" ? 4 : dtype.startsWith("F8") ? 1 : 2;
  const out = new Uint8Array(n * width);
  fromFloat32(v, dtype, out);
  return out;
}

// Decodes every stored chunk the way a reader does, never touching the encoder's raw sections.
function readBack(e: LossyEncoding, dtype: Dtype, stored: Uint8Array[]) {
  const cache = new Map<number, Uint8Array[]>();
  return (i: number) => {
    if (!cache.has(i)) {
      cache.set(
        i,
        decodeVariantChunk(e, dtype, i, chunkEntry(e.chunks, i), stored[i], { verifyStored: true }),
      );
    }
    return cache.get(i)!;
  };
}

function withRecords(
  e: LossyEncoding,
  chunks: { stored: Uint8Array; rawLength: number; storedXxh32: number; rawXxh32: number }[],
): LossyEncoding {
  return {
    ...e,
    chunks: chunks.map((c) => [0, c.stored.length, c.rawLength, c.storedXxh32, c.rawXxh32]),
  } as LossyEncoding;
}

for (const s of SPECS) {
  Deno.test(`variants: ${s} decodes from its stored chunks to what the encoder measured`, () => {
    const rng = new Rng(7);
    for (
      const [dtype, shape] of [
        ["F32", [37, 45]],
        ["BF16", [3, 5, 24]],
        ["F16", [64, 16, 1, 1]],
        ["F64", [1, 50]],
        ["F8_E4M3", [6, 10]],
        ["F8_E5M2", [10, 3]],
      ] as [Dtype, number[]][]
    ) {
      const bytes = tensor(rng, dtype, shape);
      const spec = parseSpec(s);
      const v = encodeVariant({ dtype, shape, bytes }, spec as never, specName(spec), {
        mode: "best",
        chunkBytes: 200,
      });
      const e = withRecords(v.encoding, v.chunks);
      const stored = v.chunks.map((c) => c.stored);
      const [rows, cols] = matrixShape(shape);
      const whole = new Uint8Array(bytes.length);
      dequantiseRegion(
        e,
        dtype,
        shape,
        { r0: 0, r1: rows, c0: 0, c1: cols },
        readBack(e, dtype, stored),
        whole,
      );
      assert.deepEqual(whole, v.dequantised, `${s} ${dtype} ${shape}`);
      const w = bytes.length / (rows * cols);
      // Every rectangle equals the same rectangle of the whole, and decodes only its chunks.
      for (let k = 0; k < 12; k++) {
        const r0 = rng.int(rows), r1 = r0 + 1 + rng.int(rows - r0);
        const c0 = rng.int(cols), c1 = c0 + 1 + rng.int(cols - c0);
        const part = new Uint8Array((r1 - r0) * (c1 - c0) * w);
        const used = new Set<number>();
        const src = readBack(e, dtype, stored);
        dequantiseRegion(e, dtype, shape, { r0, r1, c0, c1 }, (i) => (used.add(i), src(i)), part);
        for (let r = r0; r < r1; r++) {
          assert.deepEqual(
            part.subarray((r - r0) * (c1 - c0) * w, (r - r0 + 1) * (c1 - c0) * w),
            whole.subarray((r * cols + c0) * w, (r * cols + c1) * w),
          );
        }
        if (e.view[0] === rows && e.view[1] === cols) {
          assert.deepEqual([...used].sort((a, b) => a - b), chunksFor(e, { r0, r1, c0, c1 }));
        }
      }
      const rel = v.encoding.error.relRmse!;
      assert.ok(rel >= 0 && rel < 1.01, `${s} ${dtype}: relative RMSE ${rel}`);
    }
  });
}

Deno.test("variants: a flipped bit in a stored chunk is an error or changes nothing", () => {
  const rng = new Rng(3);
  const shape = [16, 24], bytes = tensor(rng, "BF16", shape);
  for (const s of ["int8:asym:g8", "ternary:3:base3", "ternary:2", "svd:energy=0.8", "sparse:2"]) {
    const spec = parseSpec(s);
    const v = encodeVariant({ dtype: "BF16", shape, bytes }, spec as never, s, { mode: "best" });
    const e = withRecords(v.encoding, v.chunks);
    const good = v.chunks[0].stored;
    const want = decodeVariantChunk(e, "BF16", 0, chunkEntry(e.chunks, 0), good);
    for (let at = 0; at < good.length; at++) {
      const bad = good.slice();
      bad[at] ^= 1 << (at % 8);
      try {
        const got = decodeVariantChunk(e, "BF16", 0, chunkEntry(e.chunks, 0), bad);
        assert.deepEqual(got, want, `${s} byte ${at}`);
      } catch (err) {
        assertCodecError(() => {
          throw err;
        });
      }
    }
  }
});

Deno.test("variants: ternary:3 on a Gaussian reaches the ATD target (≤ 30% of FP16, ≤ 0.2× N=1)", () => {
  const rng = new Rng(11), n = 256;
  const v = new Float32Array(n * n).map(() => rng.normal());
  const bytes = new Uint8Array(v.buffer);
  const run = (s: string) => {
    const spec = parseSpec(s);
    const r = encodeVariant({ dtype: "F32", shape: [n, n], bytes }, spec as never, s, {
      mode: "best",
    });
    return {
      size: r.chunks.reduce((a, c) => a + c.stored.length, 0),
      rel: r.encoding.error.relRmse!,
    };
  };
  const one = run("ternary:1"), three = run("ternary:3");
  assert.ok(three.size <= 0.3 * n * n * 2, `size ${three.size / (n * n * 2)} of FP16`);
  assert.ok(three.rel <= 0.2 * one.rel, `RMSE ${three.rel / one.rel} of N = 1`);
});

Deno.test("variants: int8 keeps 0 exact and bounds the error by half a step", () => {
  const rng = new Rng(5);
  const v = new Float32Array(8 * 32).map((_, i) => (i % 5 === 0 ? 0 : rng.normal()));
  const bytes = new Uint8Array(v.buffer);
  for (const s of ["int8", "int8:asym", "int8:g8"]) {
    const r = encodeVariant({ dtype: "F32", shape: [8, 32], bytes }, parseSpec(s) as never, s, {
      mode: "best",
    });
    const out = new Float32Array(r.dequantised.buffer);
    for (let i = 0; i < v.length; i += 5) assert.equal(out[i], 0, `${s} element ${i}`);
  }
});

Deno.test("variants: non-finite elements do not break a variant", () => {
  const v = Float32Array.of(1, NaN, -Infinity, 2, Infinity, -3, 0.5, 0.25);
  const bytes = new Uint8Array(v.buffer);
  for (const s of ["int8", "int8:asym", "ternary:2", "svd:energy=0.9", "fp16", "sparse:0.3"]) {
    const r = encodeVariant({ dtype: "F32", shape: [2, 4], bytes }, parseSpec(s) as never, s, {
      mode: "best",
    });
    assert.ok(r.encoding.error.relRmse === null || r.encoding.error.relRmse >= 0, s);
  }
});
