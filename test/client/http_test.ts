import assert from "node:assert/strict";
import { bodyPieces, parseContentRange } from "../../src/client/http.ts";

Deno.test("parseContentRange: a satisfied range, and nothing else", () => {
  assert.deepEqual(parseContentRange("bytes 0-63/1000"), { first: 0, last: 63, total: 1000 });
  assert.deepEqual(parseContentRange("bytes */1000"), undefined);
  assert.deepEqual(parseContentRange("bytes 0-63/*"), undefined);
  assert.deepEqual(parseContentRange(" bytes 0-63/1000"), undefined);
  assert.deepEqual(parseContentRange(null), undefined);
});

Deno.test("bodyPieces: yields each piece, and cancels the body when the loop stops early", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array([1, 2]));
    },
    cancel() {
      cancelled = true;
    },
  });
  const seen: number[] = [];
  for await (const piece of bodyPieces(new Response(body))) {
    seen.push(...piece);
    if (seen.length >= 4) break;
  }
  assert.deepEqual(seen, [1, 2, 1, 2]);
  assert.deepEqual(cancelled, true);
  assert.deepEqual(await Array.fromAsync(bodyPieces(new Response(null))), []);
});
