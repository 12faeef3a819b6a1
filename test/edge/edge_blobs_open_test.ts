/**
 * A cold open of a blob whose origin answers badly: the edge's two opening requests (the stream
 * from byte 0 and the tail) end in the origin's own answer, a 404 as "no such blob" and a failed
 * tail as 503, never an AbortError (a 500) from cancelling the other body, and both bodies are
 * cancelled (the test's op sanitizer fails on a body left open).
 * @module
 */
import assert from "node:assert/strict";
import { createEdgeBlobs } from "../../src/edge/edge_blobs.ts";
import { createOriginClient } from "../../src/edge/origin_client.ts";
import { openSpanCache } from "../../src/edge/span_cache.ts";
import { HttpError } from "../../src/http/http_error.ts";

/** Opens a blob against a stub origin answering with `handler`. */
async function openAgainst(handler: (req: Request) => Response): Promise<unknown> {
  const stop = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen() {} },
    handler,
  );
  const dir = await Deno.makeTempDir({ prefix: "tessera_edge_open_" });
  try {
    const spans = await openSpanCache(`${dir}/spans`, 1 << 30);
    const origin = createOriginClient(`http://127.0.0.1:${server.addr.port}`, { timeoutMs: 2000 });
    const blobs = createEdgeBlobs({ origin, spans, metaDir: `${dir}/meta` });
    try {
      return await blobs.open("ab".repeat(32));
    } catch (e) {
      return e;
    }
  } finally {
    stop.abort();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("edge open: a blob the origin does not have is null (404), not an error", async () => {
  const got = await openAgainst(() => Response.json({ error: "not_found" }, { status: 404 }));
  assert.equal(got, null);
});

Deno.test("edge open: a failed tail request is the origin's 503, and the stream's body is cancelled", async () => {
  const size = 1 << 20;
  const got = await openAgainst((req) =>
    (req.headers.get("range") ?? "").startsWith("bytes=-")
      ? new Response("down", { status: 503 })
      : new Response(new Uint8Array(size), {
        status: 206,
        headers: { "content-range": `bytes 0-${size - 1}/${size}` },
      })
  );
  assert.ok(got instanceof HttpError, `not an HttpError: ${got}`);
  assert.equal(got.status, 503);
});
