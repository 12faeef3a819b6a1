/** The edge's origin client: a body that trickles is an error, a slow reader of ours is not. */
import assert from "node:assert/strict";
import { createOriginClient } from "../../src/edge/origin_client.ts";
import { HttpError } from "../../src/http/http_error.ts";

/** Serves `body` for every request, against which `run` uses a client with a 150 ms stall limit. */
async function against(
  body: () => ReadableStream<Uint8Array>,
  size: number,
  run: (origin: ReturnType<typeof createOriginClient>) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen() {} },
    () => new Response(body(), { headers: { "content-length": String(size) } }),
  );
  try {
    await run(createOriginClient(`http://127.0.0.1:${server.addr.port}`, {
      timeoutMs: 2000,
      stallMs: 150,
    }));
  } finally {
    stop.abort();
    await server.finished;
  }
}

/** A body of `size` bytes sent `piece` bytes every `everyMs`. */
function dripping(size: number, piece: number, everyMs: number): () => ReadableStream<Uint8Array> {
  return () => {
    let sent = 0, timer: ReturnType<typeof setTimeout> | undefined;
    return new ReadableStream({
      async pull(c) {
        await new Promise((r) => timer = setTimeout(r, everyMs));
        const n = Math.min(piece, size - sent);
        c.enqueue(new Uint8Array(n));
        sent += n;
        if (sent === size) c.close();
      },
      cancel: () => clearTimeout(timer),
    });
  };
}

Deno.test("origin client: a body that brings a byte now and then, never stalling, fails as trickling", async () => {
  // One byte every 30 ms never stalls for 150 ms, and would take five minutes.
  await against(dripping(10_000, 1, 30), 10_000, async (origin) => {
    const res = await origin.request("/blob");
    const e = await origin.body(res).catch((e) => e);
    assert.ok(e instanceof HttpError, `not an HttpError: ${e}`);
    assert.equal(e.status, 503);
    assert.match(e.message, /trickled/);
  });
});

Deno.test("origin client: a slow sink of ours is not counted against the origin", async () => {
  const size = 200 << 10;
  await against(dripping(size, 16 << 10, 1), size, async (origin) => {
    const res = await origin.request("/blob");
    // Each piece held 100 ms by our side: counted as the origin's time, a stall limit would see
    // at most two 16 KiB pieces, under the 64 KiB the trickle rule asks for.
    const n = await origin.pipe(res, () => new Promise((r) => setTimeout(r, 100)));
    assert.equal(n, size);
  });
});
