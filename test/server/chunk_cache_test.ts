import assert from "node:assert/strict";
import { createChunkCache } from "../../src/server/chunk_cache.ts";

Deno.test("chunk cache: LRU within a byte budget, with hit/miss/eviction counts", () => {
  const c = createChunkCache(100);
  c.set("a", new Uint8Array(40));
  c.set("b", new Uint8Array(40));
  assert.ok(c.get("a")); // a is now most recent
  c.set("c", new Uint8Array(40)); // evicts b
  assert.equal(c.get("b"), undefined);
  assert.ok(c.get("a") && c.get("c"));
  c.set("huge", new Uint8Array(101)); // larger than the budget: not cached
  assert.equal(c.get("huge"), undefined);
  assert.deepEqual(c.figures(), {
    hits: 3,
    misses: 2,
    evictions: 1,
    bytes: 80,
    entries: 2,
    budget: 100,
  });
});
