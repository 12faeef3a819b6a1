import assert from "node:assert/strict";
import { createMetrics } from "../../src/server/metrics.ts";
import {
  parseExposition,
  ratesBetween,
  serverFigures,
  total,
} from "../../src/web/shared/prometheus.ts";

const CACHE = { hits: 3, misses: 1, evictions: 0, bytes: 10, entries: 1, budget: 100 };

Deno.test("prometheus: reads what the server's registry writes", () => {
  const m = createMetrics();
  m.request("/v1/models/:org/:name", "GET", 200, 0.002);
  m.request("/v1/models/:org/:name", "GET", 404, 0.001);
  m.request('/odd "route"\\x', "GET", 200, 0.1);
  m.bytesOut("/v1/models/:org/:name", 1234);
  m.decoded(1e6, 0.01, 4);
  const e = parseExposition(m.render(CACHE, { tessera_open_containers: 2 }));
  assert.equal(total(e, "tessera_http_requests_total"), 3);
  assert.equal(total(e, "tessera_http_requests_total", { status: "404" }), 1);
  assert.equal(total(e, "tessera_http_requests_total", { route: '/odd "route"\\x' }), 1);
  assert.equal(total(e, "tessera_http_request_duration_seconds_bucket", { le: "+Inf" }), 3);
  const f = serverFigures(e);
  assert.deepEqual(
    [f.requests, f.bytesOut, f.cacheHits, f.cacheMisses, f.decodeBytes, f.cacheBudget],
    [3, 1234, 3, 1, 1e6, 100],
  );
  assert.equal(total(e, "tessera_open_containers"), 2);
});

Deno.test("prometheus: rates between readings; a restart counts from zero", () => {
  const a = serverFigures(parseExposition(
    "tessera_http_requests_total 10\ntessera_cache_hits_total 4\ntessera_cache_misses_total 4\n",
  ));
  const b = serverFigures(parseExposition(
    "tessera_http_requests_total 30\ntessera_cache_hits_total 7\ntessera_cache_misses_total 5\n",
  ));
  const r = ratesBetween(a, b, 2);
  assert.equal(r.requestsPerSecond, 10);
  assert.equal(r.cacheHitRatio, 0.75);
  assert.equal(ratesBetween(b, a, 1).requestsPerSecond, 10);
  assert.equal(ratesBetween(a, a, 1).cacheHitRatio, null);
});

Deno.test("prometheus: special values, and malformed lines are errors naming the line", () => {
  const e = parseExposition('# HELP x y\nx_a +Inf\nx_b NaN\nx_c{a="1",} -Inf 1700000000\n');
  assert.equal(total(e, "x_a"), Infinity);
  assert.ok(Number.isNaN(total(e, "x_b")));
  assert.equal(total(e, "x_c", { a: "1" }), -Infinity);
  assert.throws(() => parseExposition("ok 1\nbroken\n"), /line 2/);
  assert.throws(() => parseExposition("x{a=1} 2\n"), /line 1 has malformed labels/);
  assert.throws(() => parseExposition("x one\n"), /no numeric value/);
});
