/** Multi-range answers: one merged range, multipart/byteranges, or the whole body. */
import assert from "node:assert/strict";
import { parseRangeAnswer } from "../../src/edge/byte_ranges.ts";
import { sendRepresentation } from "../../src/http/send.ts";
import { bytesRepresentation } from "../../src/http/representation.ts";

const data = Uint8Array.from({ length: 1000 }, (_, i) => i & 255);

async function ask(range: string) {
  const rep = bytesRepresentation(data, "application/octet-stream", '"x"');
  const res = await sendRepresentation(
    new Request("http://h/", { headers: { Range: range } }),
    rep,
  );
  const body = new Uint8Array(await res.arrayBuffer());
  return parseRangeAnswer(
    res.status,
    res.headers.get("content-type"),
    res.headers.get("content-range"),
    body,
  );
}

Deno.test("byte ranges: the server's multipart answer, a merged range, a 200", async () => {
  const two = await ask("bytes=0-99,-200");
  assert.equal(two.size, 1000);
  assert.deepEqual(two.parts.map((p) => [p.start, p.bytes.length]), [[0, 100], [800, 200]]);
  assert.deepEqual(two.parts[1].bytes, data.subarray(800));
  const merged = await ask("bytes=0-599,-600");
  assert.equal(merged.parts.length, 1);
  assert.deepEqual(merged.parts[0].bytes, data);
  const whole = parseRangeAnswer(200, "application/octet-stream", null, data);
  assert.deepEqual(whole, { size: 1000, parts: [{ start: 0, bytes: data }] });
  assert.throws(() => parseRangeAnswer(206, "multipart/byteranges; boundary=zz", null, data));
  assert.throws(() => parseRangeAnswer(206, "text/plain", "bytes 0-9/10", data));
});
