/**
 * The client's stall limit against real HTTP servers on loopback that stop sending: before the
 * headers, mid-body, and in front of the real hub during a pull and a load. A slow reader is not
 * a stall, and the caller's abort keeps its own reason.
 * @module
 */
import assert from "node:assert/strict";
import { ClientError } from "../../src/client/errors.ts";
import { guardStalls } from "../../src/client/stall_guard.ts";
import { loadModel } from "../../src/client/load_model.ts";
import { pullFile } from "../../src/cli/pull.ts";
import { withTempDir } from "../helpers/container.ts";
import { packModel, startHub } from "./hub_server.ts";

const FIXTURE = new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url).pathname;
const plainFetch = (input: string | URL | Request, init?: RequestInit) => fetch(input, init);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server whose handler is `handler`, on a random loopback port; `stop()` also ends stalls. */
function serve(handler: (req: Request, stopped: AbortSignal) => Response | Promise<Response>) {
  const stopped = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => handler(req, stopped.signal),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async stop() {
      stopped.abort();
      await server.shutdown();
    },
  };
}

/** A body that sends `first` bytes, then nothing until `stopped`. */
function stallingBody(first: number, stopped: AbortSignal): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    async pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(new Uint8Array(first));
        return;
      }
      await new Promise((r) => stopped.addEventListener("abort", r, { once: true }));
      c.close();
    },
  });
}

async function assertStalled(p: Promise<unknown>, phase: RegExp) {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof ClientError, `not a ClientError: ${e}`);
    assert.equal(e.kind, "stalled");
    assert.match(e.message, phase);
    return true;
  });
}

Deno.test("guardStalls: no response headers within the limit is a stall naming the request", async () => {
  const s = serve(async (_req, stopped) => {
    await new Promise((r) => stopped.addEventListener("abort", r, { once: true }));
    return new Response("late");
  });
  try {
    const f = guardStalls(plainFetch, 150);
    await assertStalled(
      f(`${s.url}/x`, { headers: { Range: "bytes=0-9" } }),
      /GET http:\/\/127\.0\.0\.1:\d+\/x \(bytes=0-9\): no response headers for 150 ms/,
    );
  } finally {
    await s.stop();
  }
});

Deno.test("guardStalls: a body that stops mid-way fails its reader with a stall", async () => {
  const s = serve((_req, stopped) => new Response(stallingBody(1000, stopped)));
  try {
    const res = await guardStalls(plainFetch, 150)(`${s.url}/y`);
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(first.value?.length, 1000);
    await assertStalled(reader.read(), /no body bytes for 150 ms/);
  } finally {
    await s.stop();
  }
});

Deno.test("guardStalls: a slow reader is not a stall, and the body arrives whole", async () => {
  const pieces = 5;
  const s = serve(() =>
    new Response(
      new ReadableStream({
        start(c) {
          for (let i = 0; i < pieces; i++) c.enqueue(new Uint8Array(100).fill(i));
          c.close();
        },
      }),
    )
  );
  try {
    const res = await guardStalls(plainFetch, 100)(`${s.url}/z`);
    // The reader waits longer than the limit between reads: the server is not to blame.
    await sleep(250);
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.equal(bytes.length, pieces * 100);
    for (let i = 0; i < pieces; i++) assert.equal(bytes[i * 100], i);
  } finally {
    await s.stop();
  }
});

Deno.test("guardStalls: the caller's abort keeps its own reason; 0 turns the limit off", async () => {
  const s = serve((_req, stopped) => new Response(stallingBody(10, stopped)));
  try {
    const abort = new AbortController();
    const res = await guardStalls(plainFetch, 5000)(`${s.url}/a`, { signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const reason = new Error("user cancelled");
    setTimeout(() => abort.abort(reason), 50);
    await assert.rejects(reader.read(), (e) => e === reason);
    assert.equal(guardStalls(plainFetch, 0), plainFetch);
    assert.throws(() => guardStalls(plainFetch, -1), RangeError);
  } finally {
    await s.stop();
  }
});

/**
 * A proxy in front of `upstream` that passes everything through, except that the body of every
 * container read stops after `first` bytes until the proxy is stopped.
 */
function stallingProxy(upstream: string, first: number) {
  return serve(async (req, stopped) => {
    const url = new URL(req.url);
    const res = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
    });
    if (!url.pathname.endsWith("/container") || !res.body) return res;
    const reader = res.body.getReader();
    let passed = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (passed >= first) {
          await new Promise((r) => stopped.addEventListener("abort", r, { once: true }));
          await reader.cancel();
          c.close();
          return;
        }
        const r = await reader.read();
        if (r.done) return c.close();
        const piece = r.value.subarray(0, first - passed);
        passed += piece.length;
        c.enqueue(piece);
      },
      cancel: () => reader.cancel(),
    });
    return new Response(body, { status: res.status, headers: res.headers });
  });
}

Deno.test("a pull and a load through a server that stops mid-container fail as stalled, not hang", () =>
  withTempDir(async (dir) => {
    await packModel(`${dir}/models`, "demo/tiny", FIXTURE, 4096);
    const hub = await startHub(`${dir}/models`);
    const proxy = stallingProxy(hub.base, 20_000);
    // Warm the hub first (its first container read starts the decode workers), and give the
    // limit room, so the stall seen is the proxy's, mid-body, and not a slow first answer.
    await (await fetch(`${hub.base}/v1/models/demo/tiny/container?revision=main`)).arrayBuffer();
    try {
      await assertStalled(
        pullFile({
          url: `${proxy.url}/demo/tiny`,
          out: `${dir}/tiny.safetensors`,
          transport: "compressed",
          workers: 0,
          stallMs: 1500,
        }),
        /\/container\?.*no body bytes for 1500 ms/,
      );
      await assertStalled(
        (async () => {
          const it = loadModel(`${proxy.url}/v1/models/demo/tiny`, {
            transport: "compressed",
            stallMs: 1500,
          });
          for await (const _ of it) { /* read on until the stall */ }
        })(),
        /no body bytes for 1500 ms/,
      );
    } finally {
      await proxy.stop();
      await hub.close();
    }
  }));

Deno.test("guardStalls: a fetch that never heeds its abort signal still ends in a stall", async () => {
  // Deno's fetch follows the signal through a dependent signal held weakly (denoland/deno#29075);
  // once that is collected an abort no longer reaches the body. The guard must not depend on it.
  let released = 0;
  const deaf = (body: boolean) => (): Promise<Response> =>
    body
      ? Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            start: (c) => c.enqueue(new Uint8Array([1, 2, 3])),
            cancel: () => void released++,
          }),
        ),
      )
      : new Promise<Response>(() => {});
  const headers = guardStalls(deaf(false), 100);
  await assert.rejects(headers("http://deaf.invalid/h"), (e: unknown) => {
    assert.ok(e instanceof ClientError && e.kind === "stalled", String(e));
    assert.match((e as Error).message, /no response headers for 100 ms/);
    return true;
  });
  const res = await guardStalls(deaf(true), 100)("http://deaf.invalid/b");
  const reader = res.body!.getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
  await assert.rejects(reader.read(), /no body bytes for 100 ms/);
  assert.equal(released, 1, "the deaf body is cancelled, so its connection is let go");
});

Deno.test("guardStalls: a fetch that throws at once, or a body never read, keeps no process alive", async () => {
  // A process ends when nothing is pending: a limit's timer left armed would hold it for the whole
  // limit (10 minutes here), so the child is killed after 60 s and the test fails, instead of
  // hanging.
  const guard = new URL("../../src/client/stall_guard.ts", import.meta.url).href;
  const script = `
    import { guardStalls } from ${JSON.stringify(guard)};
    const limit = 600_000;
    const throwing = guardStalls(() => { throw new TypeError("bad url"); }, limit);
    await throwing("http://x.invalid/").catch(() => {});
    const unread = guardStalls(() => Promise.resolve(new Response("never read")), limit);
    await unread("http://x.invalid/");
    console.log("done");
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(killer);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "done");
  assert.ok(out.success, `the child was killed or failed: ${new TextDecoder().decode(out.stderr)}`);
});
