import assert from "node:assert/strict";
import { createRwLock } from "../../src/store/rw_lock.ts";

const tick = () => new Promise((r) => setTimeout(r, 5));

Deno.test("rw lock: readers share, a writer waits for them and runs alone, then readers resume", async () => {
  const lock = createRwLock();
  const log: string[] = [];
  let inside = 0, most = 0;
  const reader = (name: string) =>
    lock.shared(async () => {
      log.push(`${name}+`);
      most = Math.max(most, ++inside);
      await tick();
      inside--;
      log.push(`${name}-`);
    });
  const a = reader("a");
  const a2 = reader("a2");
  const w = lock.exclusive(async () => {
    log.push("w+");
    assert.equal(inside, 0, "the writer runs alone");
    await tick();
    log.push("w-");
  });
  const b = reader("b"); // arrives while the writer waits: goes after it
  await Promise.all([a, a2, w, b]);
  assert.equal(most, 2, "readers shared the lock");
  assert.deepEqual(log.slice(4), ["w+", "w-", "b+", "b-"]);
});
