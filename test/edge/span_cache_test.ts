/** The disk tier: LRU within the budget, entries survive a reopen, damaged files are dropped. */
import assert from "node:assert/strict";
import { openSpanCache, rawName, segmentName } from "../../src/edge/span_cache.ts";

const SHA = "ab".repeat(32);

Deno.test("span cache: least recently used out first, within the budget, across reopens", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cache = await openSpanCache(dir, 3000);
    const names = [0, 1, 2].map((i) => segmentName(SHA, i * 1000, 1000));
    for (const [i, n] of names.entries()) await cache.put(n, new Uint8Array(1000).fill(i));
    assert.deepEqual(await cache.get(names[0]), new Uint8Array(1000).fill(0)); // 0 is now recent
    await cache.put(segmentName(SHA, 3000, 1000), new Uint8Array(1000).fill(3));
    assert.equal(cache.has(names[1]), false, "the least recently used went");
    assert.equal(cache.has(names[0]), true);
    const f = cache.figures();
    assert.equal(f.bytes, 3000);
    assert.equal(f.evictions, 1);
    await cache.put(rawName(SHA), new Uint8Array(5000)); // larger than the budget: not kept
    assert.equal(cache.has(rawName(SHA)), false);
    // A damaged file (wrong size for its name) is dropped when the cache opens again.
    await Deno.writeFile(`${dir}/${names[2]}`, new Uint8Array(10));
    const again = await openSpanCache(dir, 3000);
    assert.equal(again.has(names[2]), false);
    assert.deepEqual(await again.get(names[0]), new Uint8Array(1000).fill(0));
    assert.equal(again.figures().entries, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
