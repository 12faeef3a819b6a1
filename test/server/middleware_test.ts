import assert from "node:assert/strict";
import { Hono } from "hono";
import type { AppEnv, RequestTrack } from "../../src/server/context.ts";
import { errorAnswer, errorResponse } from "../../src/server/error_response.ts";
import { requireToken } from "../../src/server/middleware/auth.ts";
import { headerTimeout } from "../../src/server/middleware/timeout.ts";

function app(): Hono<AppEnv> {
  const a = new Hono<AppEnv>();
  a.use("*", async (c, next) => {
    c.set("track", { timedOut: false } as RequestTrack);
    await next();
  });
  a.onError((e, c) => errorResponse(errorAnswer(e), c.req.method === "HEAD"));
  return a;
}

Deno.test("headerTimeout: a handler past the deadline gets 503 JSON; uploads are exempt", async () => {
  const a = app();
  a.use("*", headerTimeout(20));
  const slow = (c: { text: (s: string) => Response }) =>
    new Promise<Response>((r) => setTimeout(() => r(c.text("late")), 60));
  a.get("/slow", slow);
  a.put("/slow", slow);
  a.get("/fast", (c) => c.text("ok"));
  const r = await a.request("/slow");
  assert.equal(r.status, 503);
  assert.equal((await r.json()).error, "timeout");
  assert.equal(await (await a.request("/fast")).text(), "ok");
  assert.equal(await (await a.request("/slow", { method: "PUT" })).text(), "late");
  await new Promise((r) => setTimeout(r, 60));
});

Deno.test("requireToken: 403 when writes are disabled, 401 without the right bearer", async () => {
  const off = app();
  off.put("/x", requireToken(null), (c) => c.text("ok"));
  assert.equal((await off.request("/x", { method: "PUT" })).status, 403);
  const on = app();
  on.put("/x", requireToken("k"), (c) => c.text("ok"));
  const no = await on.request("/x", { method: "PUT" });
  assert.equal(no.status, 401);
  assert.equal(no.headers.get("WWW-Authenticate"), 'Bearer realm="tessera"');
  const wrong = await on.request("/x", { method: "PUT", headers: { Authorization: "Bearer kk" } });
  assert.equal(wrong.status, 401);
  const ok = await on.request("/x", { method: "PUT", headers: { Authorization: "bearer k" } });
  assert.equal(await ok.text(), "ok");
});

Deno.test("headerTimeout: one queue of deadlines; each late handler gets 503, the others answer", async () => {
  const a = app();
  a.use("*", headerTimeout(300));
  // Handlers that answer at once, and handlers that answer only once the test lets them.
  let letGo!: () => void;
  const gate = new Promise<void>((r) => letGo = r);
  a.get("/now", (c) => c.text("now"));
  a.get("/held", async (c) => {
    await gate;
    return c.text("late");
  });
  const order = ["/held", "/now", "/held", "/now", "/now", "/held"];
  const started = order.map((path) => Promise.resolve(a.request(path)));
  const statuses = await Promise.all(started.map(async (p) => {
    const r = await p;
    await r.body?.cancel();
    return r.status;
  }));
  assert.deepEqual(statuses, [503, 200, 503, 200, 200, 503]);
  // The queue empties, and later requests get deadlines of their own.
  assert.equal((await a.request("/held")).status, 503);
  assert.equal(await (await a.request("/now")).text(), "now");
  letGo();
});
