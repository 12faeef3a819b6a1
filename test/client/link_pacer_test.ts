/**
 * The link pacer, on a made-up clock: two requests go at once while the link is unknown; once its
 * round trip and bandwidth are measured, the next request goes when those in flight end within one
 * round trip, never earlier, and never beyond the cap.
 */
import assert from "node:assert/strict";
import { linkPacer } from "../../src/client/link_pacer.ts";

Deno.test("link pacer: requests follow each other one round trip apart", async () => {
  let t = 0;
  const pacer = linkPacer({ now: () => t, maxInflight: 3 });
  const started: number[] = [];
  const go = (k: number) => pacer.acquire(1000).then((p) => (started.push(k), p));
  const a = await go(0);
  const b = await go(1);
  let cStarted = false;
  const c = go(2).then((p) => (cStarted = true, p));
  await Promise.resolve();
  assert.equal(cStarted, false, "a third request waits while the link is unknown");
  // a: headers after a 40 ms round trip, then 1000 bytes over 100 ms (10 bytes/ms).
  t = 40, a.headers();
  t = 140, a.progress(1000), a.done();
  await Promise.resolve();
  assert.equal(pacer.estimates().rtt, 0.04);
  assert.ok(Math.abs(pacer.estimates().bandwidth - 10_000) < 1);
  assert.equal(cStarted, false, "b has 1000 bytes left: 100 ms, more than a round trip");
  t = 150, b.headers();
  t = 220, b.progress(700);
  const pc = await c;
  assert.ok(cStarted, "300 bytes left on b: 30 ms, within the round trip");
  let dStarted = false;
  const d = go(3).then((p) => (dStarted = true, p));
  await Promise.resolve();
  assert.equal(dStarted, false, "300 bytes on b and 1000 on c: 130 ms, more than 40");
  t = 250, b.progress(300), b.done();
  t = 260, pc.headers();
  t = 330, pc.progress(700);
  await d;
  assert.ok(dStarted, "300 bytes on c: within the round trip");
  assert.deepEqual(started, [0, 1, 2, 3]);
});

Deno.test("link pacer: an abort while waiting rejects with the signal's reason", async () => {
  const pacer = linkPacer({ startInflight: 1 });
  await pacer.acquire(10);
  const stop = new AbortController();
  const waiting = pacer.acquire(10, stop.signal);
  stop.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
});

Deno.test("link pacer: a group goes all at once or waits, and an idle link takes it", async () => {
  let t = 0;
  const pacer = linkPacer({ now: () => t });
  let order: string[] = [];
  const one = (name: string, bytes: number, signal?: AbortSignal) =>
    pacer.acquire(bytes, signal).then((p) => (order.push(name), p));
  const group = (name: string, sizes: number[], signal?: AbortSignal) =>
    pacer.acquireAll(sizes, signal).then((ps) => (order.push(name), ps));
  // The link unknown: two requests at once, so a group of two goes alone.
  const [a, b] = await group("ab", [1000, 1000]);
  const c = group("cd", [100, 100]);
  const e = one("e", 100);
  await Promise.resolve();
  assert.deepEqual(order, ["ab"]);
  // Measured: a 10 ms round trip, 10 bytes/ms. 1000 bytes left on b: 100 ms, more than 10.
  t = 10, a.headers(), b.headers();
  t = 110, a.progress(1000), a.done();
  await Promise.resolve();
  assert.deepEqual(order, ["ab"], "the group waits while b has more than a round trip left");
  // b's end: the link is idle and takes the group, then e behind it (100 + 100 bytes: 20 ms).
  t = 200, b.progress(1000), b.done();
  const [pc, pd] = await c;
  assert.deepEqual(order, ["ab", "cd"]);
  t = 220, pc.headers(), pc.progress(100), pc.done();
  const pe = await e;
  assert.deepEqual(order, ["ab", "cd", "e"]);
  // With e still in flight (all its bytes in), a group of four waits (four at most), and holds
  // back g behind it; aborted, it lets g go.
  t = 230, pd.headers(), pd.progress(100), pd.done(), pe.headers(), pe.progress(100);
  order = [];
  const stop = new AbortController();
  const f = group("f", [10, 10, 10, 10], stop.signal);
  const g = one("g", 10);
  await Promise.resolve();
  assert.deepEqual(order, []);
  stop.abort(new Error("stop"));
  await assert.rejects(f, /stop/);
  await g;
  assert.deepEqual(order, ["g"]);
});
