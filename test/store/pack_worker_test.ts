import assert from "node:assert/strict";
import { uploadPackWorkers } from "../../src/store/pack_worker.ts";
import { PARALLEL_FROM } from "../../src/pack/write.ts";

Deno.test("uploadPackWorkers: half the cores from 4 cores and 16 MiB of data, else none", () => {
  assert.equal(uploadPackWorkers(PARALLEL_FROM - 1, 16), 0);
  assert.equal(uploadPackWorkers(PARALLEL_FROM, 2), 0);
  assert.equal(uploadPackWorkers(PARALLEL_FROM, 3), 0);
  assert.equal(uploadPackWorkers(PARALLEL_FROM, 4), 2);
  assert.equal(uploadPackWorkers(PARALLEL_FROM, 12), 6);
  assert.equal(uploadPackWorkers(PARALLEL_FROM, 64), 8);
});
