/**
 * The link model of the transfer bench's proxy, on a clock the test supplies: throughput, one-way
 * delay, the handshake RTT and sharing, all checked exactly without sleeping.
 * @module
 */
import assert from "node:assert/strict";
import { defaultBurst, linkModel } from "../../../bench/transfer/link_model.ts";

Deno.test("link model: a bulk send takes bytes / rate, then one way", () => {
  const link = linkModel({ bitsPerSecond: 100e6, rttMs: 40, burstBytes: 0 });
  assert.equal(link.oneWayMs, 20);
  // 12.5 MB at 100 Mbit/s is one second.
  assert.equal(link.send("down", 12_500_000, 0), 1000 + 20);
});

Deno.test("link model: sends in small pieces reach the rate, whatever the piece size", () => {
  for (const piece of [1, 1500, 65536, 1 << 20]) {
    const link = linkModel({ bitsPerSecond: 1e9, rttMs: 2 });
    let last = 0;
    const total = 125_000_000; // one second at 1 Gbit/s
    // The sender offers everything at once (time 0): only the link paces it.
    for (let sent = 0; sent < total; sent += piece) {
      last = link.send("down", Math.min(piece, total - sent), 0);
    }
    const burstMs = defaultBurst(1e9) / 125_000; // the bucket starts full
    assert.ok(Math.abs(last - (1000 + 1 - burstMs)) < 1e-6, `piece ${piece}: ${last}`);
  }
});

Deno.test("link model: an idle link refills its bucket up to the burst only", () => {
  const link = linkModel({ bitsPerSecond: 8e6, rttMs: 10, burstBytes: 1000 }); // 1000 bytes per ms
  assert.equal(link.send("down", 1000, 0), 5); // the full bucket: leaves at once
  assert.equal(link.send("down", 1000, 0), 1 + 5); // waits one ms for tokens
  // A long pause refills no more than the burst.
  assert.equal(link.send("down", 3000, 100), 100 + 2 + 5);
});

Deno.test("link model: the two directions are independent, connections share one", () => {
  const link = linkModel({ bitsPerSecond: 8e6, rttMs: 0, burstBytes: 0 });
  assert.equal(link.send("down", 4000, 0), 4);
  assert.equal(link.send("up", 1000, 0), 1); // not behind the download
  assert.equal(link.send("down", 4000, 0), 8); // a second connection queues behind the first
});

Deno.test("link model: a request costs one RTT, two on a new connection", () => {
  const link = linkModel({ bitsPerSecond: null, rttMs: 40 });
  const requestArrives = link.send("up", 200, 0); // 20
  const responseArrives = link.send("down", 300, requestArrives); // 40
  assert.equal(responseArrives, 40);
  const ready = link.connectionReady(0); // the handshake
  assert.equal(Math.max(link.send("up", 200, 0), ready + link.oneWayMs), 60);
});

Deno.test("link model: bad specs are refused", () => {
  assert.throws(() => linkModel({ bitsPerSecond: 0, rttMs: 1 }), /bitsPerSecond must be > 0/);
  assert.throws(() => linkModel({ bitsPerSecond: null, rttMs: -1 }), /rttMs must be >= 0/);
  assert.throws(() => linkModel({ bitsPerSecond: 1e6, rttMs: 1 }).send("up", -1, 0), /bytes/);
});
