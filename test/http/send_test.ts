import assert from "node:assert/strict";
import { BodyTimeoutError, iterableBody } from "../../src/http/body_stream.ts";
import { multipartLayout } from "../../src/http/multipart.ts";
import { rechunk } from "../../src/http/rechunk.ts";
import { bytesRepresentation, type Representation } from "../../src/http/representation.ts";
import { sendRepresentation } from "../../src/http/send.ts";
import { parseMultipart } from "../server/harness.ts";

const DATA = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
const req = (headers: Record<string, string> = {}, method = "GET") =>
  new Request("http://t/x", { method, headers });

function counted(): Representation & { released: number } {
  const rep = {
    ...bytesRepresentation(DATA, "application/octet-stream", '"e"'),
    released: 0,
    release() {
      rep.released++;
    },
  };
  return rep;
}

Deno.test("sendRepresentation: 200, 206, multipart, 304, 416, HEAD; released exactly once", async () => {
  const cases: [Record<string, string>, string, number][] = [
    [{}, "GET", 200],
    [{ Range: "bytes=10-19" }, "GET", 206],
    [{ Range: "bytes=0-1,5-6" }, "GET", 206],
    [{ "If-None-Match": '"e"' }, "GET", 304],
    [{ Range: "bytes=5000-" }, "GET", 416],
    [{}, "HEAD", 200],
    [{ Range: "bytes=1-2" }, "HEAD", 206],
    [{ "If-Match": '"stale"' }, "GET", 412],
    [{ "If-Match": '"stale"' }, "HEAD", 412],
    [{ "If-Match": '"e"', Range: "bytes=10-19" }, "GET", 206],
  ];
  for (const [headers, method, status] of cases) {
    const rep = counted();
    const res = await sendRepresentation(req(headers, method), rep);
    assert.equal(res.status, status, JSON.stringify(headers));
    const body = new Uint8Array(await res.arrayBuffer());
    assert.equal(rep.released, 1, JSON.stringify(headers));
    if (status === 200 && method === "GET") assert.deepEqual(body, DATA);
    if (status === 206 && method === "GET" && !headers.Range.includes(",")) {
      assert.deepEqual(body, DATA.subarray(10, 20));
    }
    if (method === "HEAD") assert.equal(body.length, 0);
    if (headers.Range?.includes(",")) {
      const parts = parseMultipart(res.headers.get("Content-Type")!, body);
      assert.deepEqual(parts.map((p) => [...p.bytes]), [[0, 1], [5, 6]]);
      assert.equal(Number(res.headers.get("Content-Length")), body.length);
    }
  }
});

function failingRep(onRelease: () => void): Representation {
  return {
    size: 100,
    contentType: "application/octet-stream",
    etag: '"x"',
    async *read() {
      yield new Uint8Array(10);
      throw new Error("corrupt chunk");
    },
    release: onRelease,
  };
}

Deno.test("sendRepresentation: a small body is produced before the status line; a failure is no response", async () => {
  let released = 0, ended: string | undefined;
  const rep = failingRep(() => void released++);
  await assert.rejects(
    sendRepresentation(req(), rep, { onEnd: (how) => (ended = how) }),
    /corrupt chunk/,
  );
  assert.equal(released, 1);
  assert.equal(ended, undefined, "no body was started");
  // HEAD answers as GET would.
  await assert.rejects(sendRepresentation(req({}, "HEAD"), failingRep(() => {})), /corrupt/);
});

Deno.test("sendRepresentation: a streamed body that fails errors the body and still releases", async () => {
  let released = 0;
  let ended: string | undefined;
  const rep = failingRep(() => void released++);
  const res = await sendRepresentation(req(), rep, {
    maxVerifiedBytes: 0,
    onEnd: (how) => (ended = how),
  });
  assert.equal(res.status, 200);
  await assert.rejects(res.arrayBuffer());
  assert.equal(released, 1);
  assert.equal(ended, "error");
});

Deno.test("sendRepresentation: a body shorter than announced is an error, never a short 200", async () => {
  const rep = (): Representation => ({
    size: 100,
    contentType: "application/octet-stream",
    etag: '"x"',
    async *read() {
      yield new Uint8Array(99);
    },
  });
  await assert.rejects(sendRepresentation(req(), rep()), /99 bytes/);
  const res = await sendRepresentation(req(), rep(), { maxVerifiedBytes: 0 });
  await assert.rejects(res.arrayBuffer());
});

Deno.test("iterableBody: pulls lazily, stops the producer on cancel, times out stalls", async () => {
  let produced = 0, finished = false;
  async function* gen() {
    try {
      for (let i = 0; i < 100; i++) {
        produced++;
        yield new Uint8Array([i]);
      }
    } finally {
      finished = true;
    }
  }
  const body = iterableBody(gen());
  const reader = body.getReader();
  await reader.read();
  await reader.read();
  assert.ok(produced <= 3, `pulled lazily: ${produced}`);
  await reader.cancel();
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(finished);
  assert.ok(produced < 100);

  async function* stall() {
    yield new Uint8Array([1]);
    await new Promise((r) => setTimeout(r, 200));
    yield new Uint8Array([2]);
  }
  const r2 = iterableBody(stall(), { idleTimeoutMs: 20 }).getReader();
  await r2.read();
  await assert.rejects(r2.read(), BodyTimeoutError);
  await new Promise((r) => setTimeout(r, 250));
});

Deno.test("rechunk: small chunks are gathered, large ones pass through, bytes unchanged", async () => {
  async function* src() {
    for (let i = 0; i < 300; i++) yield new Uint8Array(1000).fill(i % 256);
    yield new Uint8Array(100_000).fill(7);
    yield new Uint8Array(5).fill(9);
  }
  const out: Uint8Array[] = [];
  for await (const c of rechunk(src())) out.push(c);
  assert.deepEqual(out.map((c) => c.length), [262144, 37856, 100000, 5]);
  assert.equal(out[0][999], 0);
  assert.equal(out[0][1000], 1);
});

Deno.test("multipartLayout: the announced length is the body's length", () => {
  const m = multipartLayout([{ start: 0, end: 3 }, { start: 7, end: 9 }], 10, "text/plain", "B");
  const body = new TextDecoder().decode(
    new Uint8Array([...m.heads[0], 1, 2, 3, ...m.heads[1], 8, 9, ...m.tail]),
  );
  assert.equal(m.length, new TextEncoder().encode(body).length);
  assert.ok(
    body.startsWith("--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-2/10\r\n\r\n"),
  );
  assert.ok(body.endsWith("\r\n--B--\r\n"));
});
