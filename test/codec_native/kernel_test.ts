/**
 * The native batch kernel against the TypeScript codec, its reference: identical bytes for every
 * dtype and mode, and on damaged chunks either the exact bytes or a flag, never a wrong byte.
 * Skipped where the kernel is not built (`deno task test` builds it when a C compiler exists).
 */
import assert from "node:assert/strict";
import { encodeChunk, type Mode } from "../../codec/chunk_encode.ts";
import { type Dtype, DTYPES, planeLayout } from "../../codec/dtype.ts";
import { splitPlanes } from "../../codec/planes.ts";
import { adaptiveEncode } from "../../codec/adaptive/encode.ts";
import { topValues } from "../../codec/adaptive/choose.ts";
import type { AdaptiveHeader } from "../../codec/adaptive/header.ts";
import { xxh32 } from "../../codec/xxh32.ts";
import { KERNEL_FAILED, KERNEL_FALLBACK, type KernelPiece } from "../../src/container/backends.ts";
import { loadNativeLibrary } from "../../src/codec_native/kernel.ts";
import { nativeZstdCompress } from "../../src/codec_native/zstd.ts";
import { driftingFp8, normalBf16, normalBf16OriginF32, Rng } from "../codec/prng.ts";
import { dtypeData } from "../helpers/container.ts";

const lib = loadNativeLibrary();
const nativeBatch = lib?.batch, nativeXxh32 = lib?.xxh32;
const ignore = nativeBatch === undefined;

interface Case {
  raw: Uint8Array;
  stored: Uint8Array;
  width: number;
  signMoved: boolean;
  packed?: boolean;
}

function cases(mode: Mode): Case[] {
  const rng = new Rng(mode === "fast" ? 11 : 12);
  const out: Case[] = [];
  const add = (dtype: (typeof DTYPES)[number], raw: Uint8Array) => {
    const layout = planeLayout(dtype);
    const stored = encodeChunk(raw, layout, { mode, zstdCompress: nativeZstdCompress });
    out.push({ raw, stored, width: layout.width, signMoved: layout.signMoved });
  };
  for (const dtype of DTYPES) {
    for (const n of [1, 3, 4, 5, 17, 64, 1000, 4099]) add(dtype, dtypeData(dtype, n, rng));
  }
  for (const n of [7, 4096, 65536, 65539]) {
    add("BF16", normalBf16(rng, n));
    add("F32", normalBf16OriginF32(rng, n));
    const f32 = new Uint8Array(4 * n);
    new Float32Array(f32.buffer).forEach((_, i, a) => a[i] = (rng.float() - 0.5) * 0.04);
    add("F32", f32);
    const f16 = new Uint8Array(2 * n);
    for (let i = 0; i < n; i++) f16[2 * i] = rng.u32() & 0xff, f16[2 * i + 1] = 0x20 + rng.int(8);
    add("F16", f16);
  }
  return out;
}

/** Chunks with context rANS planes (codec 6) of every source: FP8, INT8 and BF16 with contexts. */
function contextCases(): Case[] {
  const rng = new Rng(13), n = 30_000, out: Case[] = [];
  const bf16 = new Uint8Array(2 * n), exps = driftingFp8(rng, n);
  for (let i = 0; i < n; i++) {
    const e = 112 + ((exps[i] >> 3) & 15);
    bf16[2 * i + 1] = (rng.int(2) << 7) | (e >> 1);
    bf16[2 * i] = ((e & 1) << 7) | ((e & 3) * 30 + rng.int(20));
  }
  const inputs: [(typeof DTYPES)[number], Uint8Array, number][] = [
    ["F8_E4M3", driftingFp8(rng, n), 1],
    ["F8_E4M3", driftingFp8(rng, n), 300],
    ["I8", driftingFp8(rng, n).map((b) => (b & 0x78) + rng.int(4)), 150],
    ["BF16", bf16, 100],
  ];
  for (const [dtype, raw, tileCols] of inputs) {
    const layout = planeLayout(dtype);
    const stored = encodeChunk(raw, layout, { mode: "best", dtype, tileCols });
    assert.ok(Array.from({ length: stored[0] }, (_, p) => stored[1 + 5 * p]).includes(6), dtype);
    out.push({ raw, stored, width: layout.width, signMoved: layout.signMoved });
  }
  return out;
}

Deno.test({
  name: "native kernel: context rANS planes decode natively to the TypeScript codec's bytes",
  ignore,
  fn() {
    const cs = contextCases();
    const { left, dst, pieces } = runBatch(cs);
    cs.forEach((c, k) => {
      assert.equal(left[k], 0, `case ${k} left to TypeScript`);
      assert.deepEqual(dst.subarray(pieces[k].at, pieces[k].at + c.raw.length), c.raw);
    });
    // Damaged: flagged or exact, never wrong bytes.
    const rng = new Rng(21);
    for (let round = 0; round < 20; round++) {
      const bad = new Map(cs.map((c) => {
        const s = c.stored.slice();
        s[rng.int(Math.min(s.length, 400))] ^= 1 << rng.int(8);
        return [c, s];
      }));
      const r = runBatch(cs, (c) => bad.get(c)!);
      cs.forEach((c, k) => {
        if (r.left[k]) return;
        assert.deepEqual(r.dst.subarray(r.pieces[k].at, r.pieces[k].at + c.raw.length), c.raw);
      });
    }
  },
});

/** Lays `cs` out back to back (at 64-byte offsets, as in a container) and decodes them in a batch. */
function runBatch(cs: Case[], storedOf: (c: Case) => Uint8Array = (c) => c.stored) {
  let size = 0, rawSize = 0;
  const pieces: KernelPiece[] = cs.map((c) => {
    const offset = 1000 + size, s = storedOf(c);
    size += (s.length + 63) & ~63;
    const p = {
      offset,
      storedLength: s.length,
      rawLength: c.raw.length,
      rawXxh32: xxh32(c.raw),
      layout: {
        width: c.width,
        signMoved: c.signMoved,
        packing: c.packed ? "int4" as const : undefined,
      },
      at: rawSize,
    };
    rawSize += c.raw.length;
    return p;
  });
  const stored = new Uint8Array(size);
  cs.forEach((c, k) => stored.set(storedOf(c), pieces[k].offset - 1000));
  const dst = new Uint8Array(rawSize);
  const left = nativeBatch!(stored, 1000, pieces, dst);
  return { left, dst, pieces };
}

for (const mode of ["fast", "best"] as const) {
  Deno.test({
    name: `native kernel: ${mode} chunks of every dtype decode to the TypeScript codec's bytes`,
    ignore,
    fn() {
      const cs = cases(mode);
      const { left, dst, pieces } = runBatch(cs);
      cs.forEach((c, k) => {
        const got = dst.subarray(pieces[k].at, pieces[k].at + c.raw.length);
        if (left[k]) {
          // Only zstd planes are left to TypeScript; the bytes must not have been touched wrongly
          // either way, but nothing is claimed for them.
          assert.ok(c.stored.some((_, p) => p < c.width && c.stored[1 + 5 * p] === 3), `case ${k}`);
          return;
        }
        assert.deepEqual(got, c.raw, `case ${k}: ${c.width}-byte elements`);
      });
    },
  });
}

Deno.test({
  name: "native kernel: damaged chunks are flagged or decode exactly, never to wrong bytes",
  ignore,
  fn() {
    const rng = new Rng(5);
    const cs = [...cases("fast"), ...cases("best")].filter((c) => c.raw.length >= 16);
    for (let round = 0; round < 6; round++) {
      const damaged = new Map<Case, Uint8Array>();
      for (const c of cs) {
        const s = c.stored.slice();
        const what = rng.int(3);
        if (what === 0) s[rng.int(s.length)] ^= 1 << rng.int(8);
        else if (what === 1) {
          for (let j = 0; j < 4; j++) s[rng.int(s.length)] = rng.u32() & 0xff;
        }
        damaged.set(c, what === 2 ? s.subarray(0, rng.int(s.length)) : s);
      }
      const { left, dst, pieces } = runBatch(cs, (c) => damaged.get(c)!);
      cs.forEach((c, k) => {
        if (left[k]) return;
        assert.deepEqual(dst.subarray(pieces[k].at, pieces[k].at + c.raw.length), c.raw);
      });
    }
  },
});

Deno.test({
  name: "native kernel: descriptors pointing outside the buffers are left, not followed",
  ignore,
  fn() {
    const [c] = cases("fast").filter((c) => c.raw.length > 100);
    const ok = runBatch([c]);
    assert.equal(ok.left[0], 0);
    const p = ok.pieces[0];
    const stored = new Uint8Array(c.stored.length);
    stored.set(c.stored);
    const dst = new Uint8Array(c.raw.length);
    for (
      const bad of [
        { ...p, offset: 1000 + 1, storedLength: c.stored.length },
        { ...p, offset: 1000, at: 1 },
        { ...p, offset: 1000, rawLength: c.raw.length + c.width },
        // Rows copied past the end of dst, or rows that do not divide the tile.
        { ...p, offset: 1000, scatter: { rowBytes: c.width, stride: c.width, target: 1 } },
        { ...p, offset: 1000, scatter: { rowBytes: c.raw.length - 1, stride: 1 << 20, target: 0 } },
      ]
    ) {
      assert.equal(nativeBatch!(stored, 1000, [bad], dst)[0], KERNEL_FALLBACK);
    }
  },
});

Deno.test({
  name: "native kernel: XXH32 matches the TypeScript one at every length",
  ignore,
  fn() {
    const data = new Rng(9).bytes(300);
    for (let n = 0; n <= data.length; n++) {
      assert.equal(nativeXxh32!(data.subarray(0, n)), xxh32(data.subarray(0, n)));
    }
  },
});

Deno.test({
  name: "native kernel: chunks sharing output space are each checked before being overwritten",
  ignore,
  fn() {
    // The batch hashes decoded chunks in pairs; a chunk written over a waiting one must not
    // change the waiting one's verdict.
    const [a, b] = cases("fast").filter((c) => c.raw.length >= 1000 && c.width === 2);
    const stored = new Uint8Array(a.stored.length + b.stored.length);
    stored.set(a.stored), stored.set(b.stored, a.stored.length);
    const piece = (c: Case, offset: number, rawXxh32: number) => ({
      offset,
      storedLength: c.stored.length,
      rawLength: c.raw.length,
      rawXxh32,
      layout: { width: c.width, signMoved: c.signMoved },
      at: 0,
    });
    const dst = new Uint8Array(Math.max(a.raw.length, b.raw.length));
    for (const wrong of [false, true]) {
      const left = nativeBatch!(stored, 0, [
        piece(a, 0, (xxh32(a.raw) ^ (wrong ? 1 : 0)) >>> 0),
        piece(b, a.stored.length, xxh32(b.raw)),
      ], dst);
      assert.deepEqual([...left], [wrong ? KERNEL_FAILED : 0, 0]);
      assert.deepEqual(dst.subarray(0, b.raw.length), b.raw);
    }
  },
});

Deno.test({
  name: "native kernel: outputs at odd offsets decode exactly (tiles need not be aligned)",
  ignore,
  fn() {
    for (const mode of ["fast", "best"] as const) {
      for (const c of cases(mode).filter((c) => c.raw.length >= 1000 && c.width > 1)) {
        const stored = new Uint8Array(c.stored.length + 64);
        stored.set(c.stored, 64);
        for (const at of [1, 3]) {
          const dst = new Uint8Array(at + c.raw.length);
          const left = nativeBatch!(stored, 0, [{
            offset: 64,
            storedLength: c.stored.length,
            rawLength: c.raw.length,
            rawXxh32: xxh32(c.raw),
            layout: { width: c.width, signMoved: c.signMoved },
            at,
          }], dst);
          if (left[0]) continue; // a zstd plane, left to TypeScript
          assert.deepEqual(dst.subarray(at), c.raw, `${mode} width ${c.width} at ${at}`);
        }
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Adaptive planes (codec 5) and the packed INT4 layout

/** A chunk whose planes are all adaptive, as `headers` say (null: raw), built by hand. */
function adaptiveChunk(
  raw: Uint8Array,
  dtype: Dtype,
  headers: (AdaptiveHeader | null)[],
  packed = false,
): Case {
  const layout = planeLayout(dtype, packed ? "int4" : undefined), w = layout.width;
  const count = packed ? 1 : w, n = raw.length / count;
  const planes = packed ? [raw] : Array.from({ length: w }, () => new Uint8Array(n));
  if (!packed) splitPlanes(raw, w, layout.signMoved, planes);
  const payloads = planes.map((pl, p) =>
    headers[p] ? adaptiveEncode(pl, headers[p]!, planes[p + 1]) : pl
  );
  const stored = new Uint8Array(1 + 5 * count + payloads.reduce((a, b) => a + b.length, 0));
  stored[0] = count;
  let at = 1 + 5 * count;
  payloads.forEach((pl, p) => {
    stored[1 + 5 * p] = headers[p] ? 5 : 0;
    new DataView(stored.buffer).setUint32(2 + 5 * p, pl.length, true);
    stored.set(pl, at);
    at += pl.length;
  });
  return { raw, stored, width: w, signMoved: layout.signMoved, packed };
}

function adaptiveCases(): Case[] {
  const rng = new Rng(21), out: Case[] = [];
  const h = (over: Partial<AdaptiveHeader>): AdaptiveHeader => ({
    model: 0,
    context: 0,
    variant: 0,
    lanes: 1,
    cols: 1,
    elementBytes: 1,
    values: new Uint8Array(0),
    ...over,
  });
  for (const n of [1, 5, 100, 5000, 70001]) {
    for (const lanes of [1, 2, 4]) {
      for (const context of [0, 1, 2]) {
        const cols = 1 + rng.int(300);
        const bytes = new Uint8Array(n).map(() => 0x30 + Math.floor(rng.normal() * 8) & 0xff);
        for (
          const [dtype, variant] of [["F8_E4M3", 1], ["F8_E5M2", 2], ["I8", 3], ["U8", 0]] as const
        ) {
          out.push(adaptiveChunk(bytes, dtype, [h({ context, variant, lanes, cols })]));
        }
        const bf16 = normalBf16(rng, n), e = new Uint8Array(n);
        for (let i = 0; i < n; i++) e[i] = ((bf16[2 * i + 1] << 1) | (bf16[2 * i] >> 7)) & 0xff;
        const values = topValues(e).slice(0, 1 + rng.int(15));
        out.push(adaptiveChunk(bf16, "BF16", [
          h({ model: 2, lanes, variant: context & 1, values }),
          h({ model: 1, context, lanes, cols, values }),
        ]));
        const f32 = normalBf16OriginF32(rng, n);
        out.push(
          adaptiveChunk(f32, "F32", [
            null,
            null,
            h({ model: 2, lanes, values }),
            h({ model: 1, context, lanes, cols, values }),
          ]),
        );
        const f16 = new Uint8Array(2 * n);
        for (let i = 0; i < n; i++) {
          f16[2 * i] = rng.u32() & 0xff, f16[2 * i + 1] = 0x20 + rng.int(8);
        }
        out.push(
          adaptiveChunk(f16, "F16", [
            h({ context: 2, lanes }),
            h({ context, variant: 2, lanes, cols }),
          ]),
        );
        const words = new Uint8Array(4 * n).map(() =>
          (8 + Math.round(rng.normal() * 2)) * 0x11 & 0xff
        );
        out.push(
          adaptiveChunk(
            words,
            "I32",
            [h({ model: 3, context, lanes, cols, elementBytes: 4 })],
            true,
          ),
        );
        out.push(
          adaptiveChunk(words.subarray(0, n), "U8", [h({ model: 3, context, lanes, cols })], true),
        );
      }
    }
  }
  return out;
}

Deno.test({
  name: "native kernel: adaptive planes and packed layouts decode to the TypeScript codec's bytes",
  ignore,
  fn() {
    const cs = adaptiveCases();
    const { left, dst, pieces } = runBatch(cs);
    cs.forEach((c, k) => {
      assert.equal(left[k], 0, `case ${k} left to TypeScript`);
      assert.deepEqual(dst.subarray(pieces[k].at, pieces[k].at + c.raw.length), c.raw, `case ${k}`);
    });
  },
});

Deno.test({
  name: "native kernel: damaged adaptive chunks are flagged or decode exactly",
  ignore,
  fn() {
    const rng = new Rng(22), cs = adaptiveCases().filter((c) => c.raw.length >= 100);
    for (let round = 0; round < 4; round++) {
      const damaged = new Map<Case, Uint8Array>();
      for (const c of cs) {
        const s = c.stored.slice();
        for (let j = 0; j <= rng.int(3); j++) s[rng.int(s.length)] ^= 1 << rng.int(8);
        damaged.set(c, rng.int(4) === 0 ? s.subarray(0, rng.int(s.length)) : s);
      }
      const { left, dst, pieces } = runBatch(cs, (c) => damaged.get(c)!);
      cs.forEach((c, k) => {
        if (!left[k]) {
          assert.deepEqual(dst.subarray(pieces[k].at, pieces[k].at + c.raw.length), c.raw);
        }
      });
    }
  },
});

Deno.test({
  name: "native kernel: best chunks of quantised dtypes, packed or not, match the TypeScript codec",
  ignore,
  fn() {
    const rng = new Rng(23), cs: Case[] = [];
    for (const n of [64, 3000, 40000]) {
      for (const dtype of ["F8_E4M3", "F8_E5M2", "I8", "U8", "I32"] as const) {
        const w = dtype === "I32" ? 4 : 1;
        const raw = new Uint8Array(n * w).map(() => Math.floor(rng.normal() * 20) & 0xff);
        for (const packed of dtype === "I32" || dtype === "U8" ? [false, true] : [false]) {
          const layout = planeLayout(dtype, packed ? "int4" : undefined);
          for (const mode of ["fast", "best"] as const) {
            const stored = encodeChunk(raw, layout, {
              mode,
              dtype,
              tileCols: 64,
              zstdCompress: nativeZstdCompress,
            });
            cs.push({ raw, stored, width: w, signMoved: false, packed });
          }
        }
      }
    }
    const { left, dst, pieces } = runBatch(cs);
    cs.forEach((c, k) => {
      if (left[k]) {
        return assert.ok(c.stored.some((_, p) => p < c.stored[0] && c.stored[1 + 5 * p] === 3));
      }
      assert.deepEqual(dst.subarray(pieces[k].at, pieces[k].at + c.raw.length), c.raw, `case ${k}`);
    });
  },
});
