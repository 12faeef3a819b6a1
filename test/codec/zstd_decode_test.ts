/**
 * The portable Zstandard decoder (libzstd's, in WebAssembly): it decodes what libzstd writes, and
 * a hostile frame is a CodecError at once. fzstd 0.1.1, the decoder before it, looped forever on
 * test/fixtures/zstd/fzstd-hang.zst (the long fuzz run's chunk case 6441636 of seed 3).
 */
import assert from "node:assert/strict";
import { CodecError } from "../../codec/errors.ts";
import { loadPortableZstd, portableZstdDecompress } from "../../codec/zstd_decode.ts";
import { nativeZstdCompress } from "../../src/codec_native/zstd.ts";
import { Rng } from "./prng.ts";

await loadPortableZstd();

Deno.test("portable zstd: the frame that hung fzstd is refused as corrupt", async () => {
  const frame = await Deno.readFile(new URL("../fixtures/zstd/fzstd-hang.zst", import.meta.url));
  // The plane it came from holds 256 bytes; other sizes are refused by the frame walk first.
  for (const n of [256, 255, 257, 1 << 16]) {
    assert.throws(() => portableZstdDecompress(frame, n), CodecError, `rawLength ${n}`);
  }
});

Deno.test("portable zstd: decodes libzstd's frames at every level byte for byte", () => {
  const rng = new Rng(5);
  const inputs = [
    new Uint8Array(0),
    rng.bytes(1),
    Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) % 13),
    rng.bytes(70_000),
    Uint8Array.from({ length: 300_000 }, () => rng.int(4) * 60),
  ];
  for (const raw of inputs) {
    for (const level of [1, 9, 19]) {
      const frame = nativeZstdCompress(raw, level);
      assert.deepEqual(portableZstdDecompress(frame, raw.length), raw, `${raw.length} @${level}`);
    }
  }
});
