/**
 * Stopping the server: writes are refused at once (503, Retry-After), and a response in flight
 * that does not finish holds the shutdown only for the bound given.
 * @module
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/server/app.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { withServer } from "./harness.ts";

Deno.test("shutdown: writes get 503 at once; a stalled response holds it only for the bound", async () => {
  await withServer(async ({ url, server }) => {
    // A file larger than the socket buffers, and a download that stops reading it.
    const big = buildSafetensors([{ name: "model.layers.0.w", dtype: "F32", shape: [4096, 2048] }]);
    const staged = await server.ctx.store.receive(
      new Blob([big as Uint8Array<ArrayBuffer>]).stream(),
      {
        maxBytes: big.length,
        mode: "fast",
      },
    );
    await server.ctx.store.publish("acme", "big", "main", {
      title: "big",
      files: [{ path: "big.safetensors", content: staged }],
    });
    const res = await fetch(`${url}/acme/big/resolve/main/big.safetensors`);
    const reader = res.body!.getReader();
    await reader.read();
    const t0 = performance.now();
    const stopping = server.stop(300);
    const app = createApp(server.ctx);
    const put = await app.request("/v1/models/demo/stories260k/files/x.json", {
      method: "PUT",
      headers: { Authorization: "Bearer tok" },
      body: "{}",
    });
    assert.equal(put.status, 503);
    assert.equal((await put.json()).error, "shutting_down");
    assert.equal(put.headers.get("Retry-After"), "5");
    assert.equal(await stopping, false, "the stalled response did not finish");
    assert.ok(performance.now() - t0 < 5000, "the bound held");
    await reader.cancel().catch(() => {});
  }, { token: "tok", timeoutMs: 60_000 });
});
