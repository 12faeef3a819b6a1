import assert from "node:assert/strict";
import { chunkRuns } from "../../src/client/compressed_tensor.ts";
import { limiter } from "../../src/client/limiter.ts";
import { orderedWindow } from "../../src/client/ordered_window.ts";
import type { ChunkRecord } from "../../src/container/index_schema.ts";

const chunk = (offset: number, stored: number): ChunkRecord => [offset, stored, 0, 0, 0];

Deno.test("chunkRuns: coalesces nearby chunks in file order, up to a size cap", () => {
  const chunks = [chunk(256, 100), chunk(64, 150), chunk(384, 10), chunk(10_000, 5)];
  const runs = chunkRuns(chunks, 64, 1 << 20);
  assert.deepEqual(runs.map((r) => [r.start, r.end]), [[64, 394], [10_000, 10_005]]);
  assert.deepEqual(runs[0].chunks.map((c) => c.index), [1, 0, 2]);
  const capped = chunkRuns(chunks, 64, 200);
  assert.deepEqual(capped.map((r) => [r.start, r.end]), [[64, 214], [256, 394], [10_000, 10_005]]);
  assert.deepEqual(chunkRuns([]), []);
});

Deno.test("orderedWindow: bounded look-ahead, results in input order", async () => {
  let started = 0, maxAhead = 0, yielded = 0;
  const out: number[] = [];
  for await (
    const x of orderedWindow([5, 1, 4, 2, 3], 2, async (x) => {
      started++;
      maxAhead = Math.max(maxAhead, started - yielded);
      await new Promise((r) => setTimeout(r, x));
      return x;
    })
  ) {
    out.push(x);
    yielded++;
  }
  assert.deepEqual(out, [5, 1, 4, 2, 3]);
  assert.ok(maxAhead <= 3, `${maxAhead} started ahead`);
});

Deno.test("limiter: at most n tasks at once, first come first served", async () => {
  const limit = limiter(2);
  let active = 0, peak = 0;
  const order: number[] = [];
  await Promise.all([0, 1, 2, 3, 4].map((i) =>
    limit(async () => {
      order.push(i);
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, 2));
      active--;
    })
  ));
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.throws(() => limiter(0), RangeError);
});
