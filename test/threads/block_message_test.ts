/** A block posted to a worker comes back as the same block, jobs, copies and literals included. */
import assert from "node:assert/strict";
import { planBlocks, rectPiece, slicePieces, tensorPiece } from "../../src/container/plan.ts";
import { packBlock, unpackBlock } from "../../src/threads/block_message.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { dtypeData, openBytes, packBytes, withTempDir } from "../helpers/container.ts";

Deno.test("block message: packBlock then unpackBlock gives the block back", () =>
  withTempDir(async (dir) => {
    const rng = new Rng(2);
    const src = buildSafetensors([
      { name: "w/a:b", dtype: "BF16", shape: [40, 3000], data: dtypeData("BF16", 120000, rng) },
      { name: "n", dtype: "F32", shape: [7], data: dtypeData("F32", 7, rng) },
    ]);
    const { bytes } = await packBytes(src, dir, { chunkBytes: 4096 });
    const c = await openBytes(bytes);
    const [w, n] = c.index.tensors;
    const pieces = [
      { kind: "bytes" as const, bytes: Uint8Array.of(1, 2, 3) },
      tensorPiece(w),
      rectPiece(w, { r0: 3, r1: 9, c0: 100, c1: 2100 }),
      tensorPiece(n),
    ];
    const body = pieces.reduce((s, p) => s + (p.kind === "bytes" ? p.bytes.length : p.length), 0);
    for (const blocks of [planBlocks(pieces), planBlocks(slicePieces(pieces, 5, body - 9))]) {
      for (const b of blocks) {
        assert.deepEqual(unpackBlock(structuredClone(packBlock(b))), b);
      }
    }
  }));
