import assert from "node:assert/strict";
import { createChunkCache } from "../../src/server/chunk_cache.ts";
import { createChunkSource } from "../../src/server/chunk_source.ts";
import { createDecodePool } from "../../src/server/decode_pool.ts";
import { type Piece, slicePieces, streamPieces, tensorPiece } from "../../src/server/pieces.ts";
import { createContainerLeases } from "../../src/store/container_leases.ts";
import { installSynthetic } from "./harness.ts";

Deno.test("pieces: any byte range of the original decodes exactly, with any read-ahead", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera_pieces_" });
  const leases = createContainerLeases();
  const pool = await createDecodePool(0);
  try {
    const original = await installSynthetic(dir);
    const lease = await leases.acquire(`${dir}/test/tiny/main/model.tsr`);
    const cache = createChunkCache(64 << 10);
    const chunks = createChunkSource(cache, pool);
    const n = Number(new DataView(original.buffer).getBigUint64(0, true));
    const head = original.subarray(0, 8 + n);
    const pieces: Piece[] = [
      { kind: "bytes", bytes: head },
      ...lease.container.index.tensors.map(tensorPiece),
    ];
    const read = async (a: number, b: number, readaheadBytes: number) => {
      const out: Uint8Array[] = [];
      for await (
        const p of streamPieces(slicePieces(pieces, a, b), lease, chunks, { readaheadBytes })
      ) {
        out.push(p);
      }
      const all = new Uint8Array(out.reduce((k, p) => k + p.length, 0));
      let at = 0;
      for (const p of out) all.set(p, (at += p.length) - p.length);
      return all;
    };
    assert.deepEqual(await read(0, original.length, 1), original);
    let seed = 3;
    const rnd = (k: number) => (seed = (seed * 16807) % 2147483647) % k;
    for (let i = 0; i < 200; i++) {
      const a = rnd(original.length), b = a + rnd(Math.min(5000, original.length - a) + 1);
      assert.deepEqual(
        await read(a, b, [0, 4096, 1 << 20][i % 3]),
        original.subarray(a, b),
        `${a}-${b}`,
      );
    }
    // Narrowing: a small range of a large tensor decodes only the tile rows it needs.
    const before = cache.figures();
    const big = lease.container.index.tensors.find((t) => t.name === "w/a:b")!;
    const at = 8 + n + big.offsets[0] + 20_000;
    await read(at, at + 10, 0);
    const after = cache.figures();
    assert.ok(after.hits + after.misses - before.hits - before.misses <= 2);
    lease.release();
  } finally {
    pool.close();
    leases.close();
    await Deno.remove(dir, { recursive: true });
  }
});
