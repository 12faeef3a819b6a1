/**
 * decodeBlock: the kernel where it can, the TypeScript codec otherwise (zstd planes, or no
 * kernel), the same bytes either way; failures are `chunk_corrupt` naming the chunk; row copies
 * write only their window.
 */
import assert from "node:assert/strict";
import { encodeChunk } from "../../codec/chunk_encode.ts";
import { planeLayout } from "../../codec/dtype.ts";
import { xxh32 } from "../../codec/xxh32.ts";
import { ContainerError } from "../../src/container/errors.ts";
import { copyRows, decodeBlock, decodeScratch } from "../../src/container/decode_block.ts";
import type { Block } from "../../src/container/plan.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { nativeZstdCompress } from "../../src/codec_native/zstd.ts";
import { normalBf16, Rng } from "../codec/prng.ts";

Deno.test("decodeBlock: Huffman, rANS and zstd chunks decode, with and without the kernel", () => {
  const rng = new Rng(21), bf16 = planeLayout("BF16");
  const raw = normalBf16(rng, 20000);
  // A U8 plane of long runs is where the writer picks Zstandard, which the kernel leaves.
  const runs = Uint8Array.from({ length: 20000 }, (_, i) => (i >> 9) % 7);
  const cases = [
    { raw, layout: bf16, mode: "fast" as const },
    { raw, layout: bf16, mode: "best" as const },
    { raw: runs, layout: planeLayout("U8"), mode: "best" as const },
  ];
  const native = nativeBackends();
  for (const c of cases) {
    const stored = encodeChunk(c.raw, c.layout, { mode: c.mode, zstdCompress: nativeZstdCompress });
    if (c.layout.width === 1) assert.equal(stored[1], 3, "the U8 case is a zstd plane");
    const block = (bytes: Uint8Array): Block => ({
      length: c.raw.length,
      bufferBytes: c.raw.length,
      literals: [],
      rawBytes: c.raw.length,
      jobs: [{
        tensor: "t",
        index: 3,
        offset: 128,
        storedLength: bytes.length,
        rawLength: c.raw.length,
        storedXxh32: xxh32(stored),
        rawXxh32: xxh32(c.raw),
        layout: c.layout,
        at: 0,
      }],
    });
    for (const backends of [native, { ...native, kernel: undefined }]) {
      const out = new Uint8Array(c.raw.length);
      decodeBlock(block(stored), [{ start: 128, bytes: stored }], out, backends, decodeScratch());
      assert.deepEqual(out, c.raw, `${c.mode} ${backends.kernel ? "kernel" : "TypeScript"}`);
      const bad = stored.slice();
      bad[bad.length - 1] ^= 0x10;
      assert.throws(
        () => decodeBlock(block(bad), [{ start: 128, bytes: bad }], out, backends, decodeScratch()),
        (e) =>
          e instanceof ContainerError && e.kind === "chunk_corrupt" && /chunk 3/.test(e.message),
      );
    }
  }
});

Deno.test("copyRows: rows land at their stride and nothing outside the window is written", () => {
  const src = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
  const dst = new Uint8Array(10).fill(0xee);
  // Two rows of 3 bytes from a tile of 6-byte rows, to a stride of 5, starting one byte before
  // the window [0, 8).
  copyRows(src, {
    src: 1,
    srcStride: 6,
    rows: 2,
    bytes: 3,
    dst: -1,
    dstStride: 5,
    clipFrom: 0,
    clipTo: 8,
  }, dst);
  assert.deepEqual([...dst], [3, 4, 0xee, 0xee, 8, 9, 10, 0xee, 0xee, 0xee]);
});
