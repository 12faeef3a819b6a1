import assert from "node:assert/strict";
import { sharedBodyResponse, sharedCopy } from "../../src/http/shared_body.ts";
import { bytesRepresentation } from "../../src/http/representation.ts";
import { sendRepresentation } from "../../src/http/send.ts";

const DATA = Uint8Array.from({ length: 600_000 }, (_, i) => (i * 7) % 253);

Deno.test("sharedBodyResponse: every response carries the bytes, its status and its headers", async () => {
  const responses = Array.from(
    { length: 5 },
    (_, i) => sharedBodyResponse(DATA, { "X-N": String(i), "Content-Type": "text/x" }),
  );
  for (const [i, res] of responses.entries()) {
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("X-N"), String(i));
    assert.equal(res.headers.get("Content-Type"), "text/x");
    assert.deepEqual(await res.bytes(), DATA);
  }
});

Deno.test("sharedCopy: equal bytes, not the caller's buffer; responses from it share it", async () => {
  const mine = DATA.slice(0, 1000);
  const held = await sharedCopy(mine);
  assert.notEqual(held, mine);
  assert.deepEqual(held, mine);
  mine.fill(0); // the caller's buffer is its own again
  assert.deepEqual(await sharedBodyResponse(held, {}).bytes(), DATA.subarray(0, 1000));
});

Deno.test("sendRepresentation: shared bytes give a whole 200; ranges, HEAD and 304 as before", async () => {
  const rep = () =>
    bytesRepresentation(DATA, "application/octet-stream", '"s"', { shared: true, sha256: "ab" });
  const req = (headers: Record<string, string> = {}, method = "GET") =>
    new Request("http://t/m", { method, headers });
  const extra = [["X-Request-Id", "r1"], ["Access-Control-Allow-Origin", "*"]] as const;
  let whole = -1;
  const full = await sendRepresentation(req(), rep(), {
    headers: extra,
    onWhole: (n) => (whole = n),
  });
  assert.equal(full.status, 200);
  assert.equal(full.headers.get("X-Request-Id"), "r1");
  assert.equal(full.headers.get("Access-Control-Allow-Origin"), "*");
  assert.equal(full.headers.get("Content-Length"), String(DATA.length));
  assert.equal(full.headers.get("ETag"), '"s"');
  assert.deepEqual(await full.bytes(), DATA);
  assert.equal(whole, DATA.length);
  const part = await sendRepresentation(req({ Range: "bytes=10-19" }), rep(), { headers: extra });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get("X-Request-Id"), "r1");
  assert.deepEqual(await part.bytes(), DATA.subarray(10, 20));
  const head = await sendRepresentation(req({}, "HEAD"), rep(), { onWhole: (n) => (whole = n) });
  assert.equal(head.status, 200);
  assert.equal((await head.bytes()).length, 0);
  assert.equal(whole, 0);
  const same = await sendRepresentation(req({ "If-None-Match": '"s"' }), rep(), { headers: extra });
  assert.equal(same.status, 304);
  assert.equal(same.headers.get("X-Request-Id"), "r1");
});
