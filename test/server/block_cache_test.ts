import assert from "node:assert/strict";
import { BLOCK_BYTES, cachedRead } from "../../src/server/block_cache.ts";
import { createChunkCache } from "../../src/server/chunk_cache.ts";

// A representation whose byte i is (i * 7 + i >> 9) & 255, produced in uneven parts.
function source(reads: [number, number][]) {
  const byte = (i: number) => (i * 7 + (i >> 9)) & 255;
  return async function* (start: number, end: number, _signal: AbortSignal) {
    reads.push([start, end]);
    for (let at = start, step = 1000; at < end; at += step, step = step * 3 % 300_007 + 1) {
      const n = Math.min(step, end - at);
      yield Uint8Array.from({ length: n }, (_, k) => byte(at + k));
    }
  };
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

Deno.test("cachedRead: any range equals the source; whole blocks are served from the cache", async () => {
  const size = 3 * BLOCK_BYTES + 12345;
  const reads: [number, number][] = [];
  const cache = createChunkCache(64 << 20);
  const read = cachedRead(source(reads), cache, "k", size);
  const signal = new AbortController().signal;
  const direct = await collect(source([])(0, size, signal));
  for (
    const [a, b] of [[0, size], [5, 17], [BLOCK_BYTES - 3, BLOCK_BYTES + 9], [size - 10, size]]
  ) {
    assert.deepEqual(await collect(read(a, b, signal)), direct.subarray(a, b), `${a}-${b}`);
  }
  // The first full read cached every block, so later reads never reach the source.
  const before = reads.length;
  assert.deepEqual(await collect(read(0, size, signal)), direct);
  assert.deepEqual(
    await collect(read(BLOCK_BYTES + 1, 2 * BLOCK_BYTES + 5, signal)),
    direct.subarray(BLOCK_BYTES + 1, 2 * BLOCK_BYTES + 5),
  );
  assert.equal(reads.length, before);
  assert.equal(cache.figures().entries, 4);
});

Deno.test("cachedRead: a read starting mid-block caches only the blocks it covers whole", async () => {
  const size = 2 * BLOCK_BYTES;
  const cache = createChunkCache(64 << 20);
  const read = cachedRead(source([]), cache, "k", size);
  const signal = new AbortController().signal;
  await collect(read(10, size, signal));
  assert.equal(cache.figures().entries, 1);
  assert.ok(cache.get("k\u00001"));
  assert.equal(cache.get("k\u00000"), undefined);
});

Deno.test("cachedRead: with a limit only the blocks within it are cached, the rest always read", async () => {
  const size = 4 * BLOCK_BYTES + 777;
  const reads: [number, number][] = [];
  const cache = createChunkCache(64 << 20);
  // A limit inside block 2: blocks 0 and 1 end within it, and only they are kept.
  const read = cachedRead(source(reads), cache, "k", size, 2 * BLOCK_BYTES + 5);
  const signal = new AbortController().signal;
  const direct = await collect(source([])(0, size, signal));
  assert.deepEqual(await collect(read(0, size, signal)), direct);
  assert.equal(cache.figures().entries, 2);
  assert.ok(cache.get("k\u00000") && cache.get("k\u00001"));
  // A second whole read takes the kept blocks and reads only from where they end.
  reads.length = 0;
  assert.deepEqual(await collect(read(0, size, signal)), direct);
  assert.deepEqual(reads, [[2 * BLOCK_BYTES, size]]);
  // Ranges across the limit and past it are the source's bytes.
  for (const [a, b] of [[BLOCK_BYTES + 9, 3 * BLOCK_BYTES], [3 * BLOCK_BYTES + 1, size]]) {
    assert.deepEqual(await collect(read(a, b, signal)), direct.subarray(a, b), `${a}-${b}`);
  }
  assert.equal(cache.figures().entries, 2);
});
