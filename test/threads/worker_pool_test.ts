import assert from "node:assert/strict";
import { createWorkerPool } from "../../src/threads/worker_pool.ts";

// Echoes the request doubled; a request with `fail` throws, which fails the worker.
const ECHO = "data:application/javascript," + encodeURIComponent(
  "self.onmessage = (e) => { if (e.data.fail) throw new Error('boom'); " +
    "self.postMessage({ id: e.data.id, twice: e.data.n * 2 }); };",
);

interface Req {
  readonly id: number;
  readonly n: number;
  readonly fail?: boolean;
}
interface Rep {
  readonly id: number;
  readonly twice: number;
}

Deno.test("worker pool: replies match requests; a failing worker rejects; closed refuses", async () => {
  const pool = createWorkerPool<Req, Rep>(ECHO, 2, "echo");
  try {
    const replies = await Promise.all([1, 2, 3, 4, 5].map((n) => pool.request({ n }, [])));
    assert.deepEqual(replies.map((r) => r.twice), [2, 4, 6, 8, 10]);
    await assert.rejects(pool.request({ n: 0, fail: true }, []), /echo worker \d failed/);
  } finally {
    pool.close();
  }
  assert.equal(pool.closed, true);
  await assert.rejects(pool.request({ n: 1 }, []), /echo pool is closed/);
});
