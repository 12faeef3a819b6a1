/**
 * The transfer bench's request counter: requests found in a byte stream cut at every position,
 * with bodies by length and chunked, and streams it cannot follow.
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { requestCounter } from "../../../bench/transfer/request_counter.ts";

const enc = (s: string) => new TextEncoder().encode(s);

const STREAM = "GET /a HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n" +
  "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n" +
  "PUT /c HTTP/1.1\r\nContent-Length: 22\r\n\r\nGET /fake HTTP/1.1\r\n\r\n" +
  "POST /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
  "5;ext=1\r\nGET /\r\n10\r\n\r\n\r\nGET /no HTTP\r\n0\r\nX-Trailer: 1\r\n\r\n" +
  "\r\nGET /e?x=1 HTTP/1.1\r\n\r\n";
const EXPECTED = ["GET /a", "HEAD /b", "PUT /c", "POST /d", "GET /e?x=1"];

Deno.test("request counter: finds every request and skips bodies, however the bytes are cut", () => {
  const bytes = enc(STREAM);
  fc.assert(
    fc.property(fc.array(fc.nat(bytes.length), { maxLength: 12 }), (cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
      const c = requestCounter();
      const seen: string[] = [];
      for (let i = 1; i < points.length; i++) {
        for (const r of c.feed(bytes.subarray(points[i - 1], points[i]))) {
          seen.push(`${r.method} ${r.target}`);
        }
      }
      assert.deepEqual(seen, EXPECTED);
      assert.equal(c.opaque, false);
    }),
  );
});

Deno.test("request counter: byte by byte, and the Range header is reported", () => {
  const c = requestCounter();
  const seen = [];
  for (const b of enc(STREAM)) seen.push(...c.feed(Uint8Array.of(b)));
  assert.equal(seen.length, EXPECTED.length);
  assert.equal(seen[0].range, "bytes=0-9");
  assert.equal(seen[1].range, null);
});

Deno.test("request counter: an upgrade, a bad chunk size or a huge head stop the count", () => {
  const up = requestCounter();
  assert.equal(
    up.feed(enc("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\n\r\n")).length,
    1,
  );
  assert.equal(up.opaque, true);
  const chunk = requestCounter();
  chunk.feed(enc("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
  assert.equal(chunk.opaque, true);
  const huge = requestCounter();
  huge.feed(enc("GET / HTTP/1.1\r\nX: " + "a".repeat(70_000)));
  assert.equal(huge.opaque, true);
});
