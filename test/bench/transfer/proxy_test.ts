/**
 * The transfer bench's throttling proxy over real loopback sockets: bytes, statuses and headers
 * pass unchanged and requests are counted. Nothing here asserts on time (the bench prints its own
 * timing self-check).
 * @module
 */
import assert from "node:assert/strict";
import { startProxy } from "../../../bench/transfer/proxy.ts";

const BODY = new Uint8Array(3 << 20).map((_, i) => (i * 2654435761) >>> 24);

/** An upstream with a single Range and If-None-Match, like the servers the bench measures. */
function upstream(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (req.headers.get("if-none-match") === '"v1"') {
      return new Response(null, { status: 304, headers: { etag: '"v1"' } });
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("range") ?? "");
    if (m) {
      const [a, b] = [Number(m[1]), Number(m[2])];
      return new Response(BODY.slice(a, b + 1), {
        status: 206,
        headers: { "content-range": `bytes ${a}-${b}/${BODY.length}`, etag: '"v1"' },
      });
    }
    return new Response(BODY, { headers: { etag: '"v1"' } });
  });
}

Deno.test("proxy: forwards bodies, ranges and conditionals unchanged, and counts them", async () => {
  const server = upstream();
  const proxy = startProxy({
    upstreamPort: server.addr.port,
    link: { bitsPerSecond: 2e9, rttMs: 1 },
  });
  try {
    const base = `http://127.0.0.1:${proxy.port}/model.safetensors`;
    const full = await fetch(base);
    assert.equal(full.status, 200);
    assert.equal(full.headers.get("etag"), '"v1"');
    assert.deepEqual(new Uint8Array(await full.arrayBuffer()), BODY);
    const part = await fetch(base, { headers: { range: "bytes=100-1099" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 100-1099/${BODY.length}`);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), BODY.subarray(100, 1100));
    const same = await fetch(base, { headers: { "if-none-match": '"v1"' } });
    assert.equal(same.status, 304);
    await same.body?.cancel();
    const head = await fetch(base, { method: "HEAD" });
    assert.equal(head.status, 200);
    await head.body?.cancel();
    const s = proxy.stats();
    assert.equal(s.requests, 4);
    assert.deepEqual(s.byMethod, { GET: 3, HEAD: 1 });
    assert.equal(s.rangeRequests, 1);
    assert.equal(s.opaqueConnections, 0);
    assert.ok(s.connections >= 1);
    assert.ok(s.bytesDown > BODY.length + 1000, `${s.bytesDown}`);
    proxy.reset();
    assert.equal(proxy.stats().requests, 0);
  } finally {
    await proxy.close();
    await server.shutdown();
  }
});

Deno.test("proxy: parallel downloads through one shared link all arrive whole", async () => {
  const server = upstream();
  const proxy = startProxy({
    upstreamPort: server.addr.port,
    link: { bitsPerSecond: 4e9, rttMs: 0 },
  });
  try {
    const url = `http://127.0.0.1:${proxy.port}/`;
    const bodies = await Promise.all(
      [0, 1, 2, 3].map(async () => new Uint8Array(await (await fetch(url)).arrayBuffer())),
    );
    for (const b of bodies) assert.deepEqual(b, BODY);
    assert.equal(proxy.stats().requests, 4);
  } finally {
    await proxy.close();
    await server.shutdown();
  }
});

Deno.test("proxy: a refused upstream closes the client's connection", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const proxy = startProxy({ upstreamPort: port, link: { bitsPerSecond: null, rttMs: 0 } });
  try {
    await assert.rejects(fetch(`http://127.0.0.1:${proxy.port}/`));
  } finally {
    await proxy.close();
  }
});

Deno.test("proxy: a client that leaves mid-body does not keep the proxy from closing", async () => {
  const server = upstream();
  const proxy = startProxy({
    upstreamPort: server.addr.port,
    link: { bitsPerSecond: 80e6, rttMs: 1 }, // 3 MiB take about 0.3 s: the body is in flight
  });
  try {
    const res = await fetch(`http://127.0.0.1:${proxy.port}/`);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
  } finally {
    // A deadlocked connection would keep close() pending forever; the test would then hang.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      proxy.close().then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 10_000))),
    ]);
    clearTimeout(timer);
    await server.shutdown();
    assert.ok(closed, "proxy.close() did not finish");
  }
});
