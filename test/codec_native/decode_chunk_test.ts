/**
 * decodeChunkFast: the kernel where it can, the TypeScript codec otherwise, the same bytes and the
 * codec's errors either way. Runs with or without a built kernel.
 */
import assert from "node:assert/strict";
import { encodeChunk } from "../../codec/chunk_encode.ts";
import { planeLayout } from "../../codec/dtype.ts";
import { xxh32 } from "../../codec/xxh32.ts";
import { decodeChunkFast } from "../../src/codec_native/decode_chunk.ts";
import { nativeZstdCompress } from "../../src/codec_native/zstd.ts";
import { assertCodecError } from "../codec/assert_codec_error.ts";
import { normalBf16, Rng } from "../codec/prng.ts";

Deno.test("decodeChunkFast: Huffman, rANS and zstd chunks decode, with and without the kernel", () => {
  const rng = new Rng(21), layout = planeLayout("BF16");
  const raw = normalBf16(rng, 20000);
  // A U8 plane of long runs is where the writer picks Zstandard, which the kernel leaves.
  const runs = Uint8Array.from({ length: 20000 }, (_, i) => (i >> 9) % 7);
  const cases = [
    { raw, layout, mode: "fast" as const },
    { raw, layout, mode: "best" as const },
    { raw: runs, layout: planeLayout("U8"), mode: "best" as const },
  ];
  for (const c of cases) {
    const stored = encodeChunk(c.raw, c.layout, { mode: c.mode, zstdCompress: nativeZstdCompress });
    if (c.layout.width === 1) assert.equal(stored[1], 3, "the U8 case is a zstd plane");
    const entry = {
      storedLength: stored.length,
      rawLength: c.raw.length,
      storedXxh32: xxh32(stored),
      rawXxh32: xxh32(c.raw),
    };
    for (const native of [true, false]) {
      const out = new Uint8Array(c.raw.length);
      decodeChunkFast(stored, entry, c.layout, out, { native });
      assert.deepEqual(out, c.raw, `${c.mode} native=${native}`);
    }
    const bad = stored.slice();
    bad[bad.length - 1] ^= 0x10;
    for (const native of [true, false]) {
      assertCodecError(
        () => decodeChunkFast(bad, entry, c.layout, new Uint8Array(c.raw.length), { native }),
        "checksum_mismatch",
        "corrupt",
        "truncated",
      );
    }
  }
});
