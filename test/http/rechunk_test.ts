import assert from "node:assert/strict";
import { rechunk } from "../../src/http/rechunk.ts";

async function* failingAfter(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
  throw new Error("corrupt chunk");
}

Deno.test("rechunk: small chunks travel together, large ones pass through, order kept", async () => {
  const parts = [new Uint8Array([1]), new Uint8Array([2, 3]), new Uint8Array(8).fill(9)];
  const out: Uint8Array[] = [];
  async function* ok() {
    yield* parts;
  }
  for await (const c of rechunk(ok(), 4, 8)) out.push(c.slice());
  assert.deepEqual(out, [new Uint8Array([1, 2, 3]), new Uint8Array(8).fill(9)]);
});

Deno.test("rechunk: a failing source gets every byte it produced through before the error", async () => {
  const out: number[] = [];
  await assert.rejects(async () => {
    for await (const c of rechunk(failingAfter([new Uint8Array([1, 2]), new Uint8Array([3])]))) {
      out.push(...c);
    }
  }, /corrupt chunk/);
  assert.deepEqual(out, [1, 2, 3]);
});
