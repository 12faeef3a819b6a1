import assert from "node:assert/strict";
import { StoreError } from "../../src/store/errors.ts";
import { receiveToFile, receiveToMemory } from "../../src/store/upload.ts";

const body = (n: number, piece = 1000) => {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= n) return c.close();
      const k = Math.min(piece, n - sent);
      c.enqueue(new Uint8Array(k).fill(1));
      sent += k;
    },
  });
};
const kind = (k: string) => (e: unknown) => e instanceof StoreError && e.kind === k;

Deno.test("receive: within limits to memory and file; over the limit refused and removed", async () => {
  assert.equal((await receiveToMemory(body(2500), { maxBytes: 2500 })).length, 2500);
  await assert.rejects(receiveToMemory(body(2501), { maxBytes: 2500 }), kind("too_large"));
  await assert.rejects(
    receiveToMemory(body(10), { maxBytes: 100, contentLength: 1000 }),
    kind("too_large"),
  );
  await assert.rejects(
    receiveToMemory(body(10), { maxBytes: 100, contentLength: 20 }),
    kind("incomplete_upload"),
  );
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await receiveToFile(body(5000), `${dir}/a`, { maxBytes: 5000 }), 5000);
    assert.equal((await Deno.stat(`${dir}/a`)).size, 5000);
    await assert.rejects(
      receiveToFile(body(5001), `${dir}/b`, { maxBytes: 5000 }),
      kind("too_large"),
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a"]);
    const stalled = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
    await assert.rejects(
      receiveToFile(stalled, `${dir}/c`, { maxBytes: 10, idleTimeoutMs: 30 }),
      kind("incomplete_upload"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
