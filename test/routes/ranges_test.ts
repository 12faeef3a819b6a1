import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  demoContainer,
  get,
  installSynthetic,
  ORIGINAL,
  parseMultipart,
  sha256Hex,
  withServer,
} from "../server/harness.ts";

const FILE = "demo/stories260k/resolve/main/model.safetensors";

Deno.test("virtual model.safetensors: byte-identical, sha-256 ETag, Repr-Digest", async () => {
  await withServer(async ({ url }) => {
    const r = await get(`${url}/${FILE}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, ORIGINAL.length);
    const sha = await sha256Hex(r.body);
    assert.equal(sha, await sha256Hex(ORIGINAL));
    assert.equal(r.headers.get("ETag"), `"${sha}"`);
    assert.equal(r.headers.get("Accept-Ranges"), "bytes");
    const b64 = createHash("sha256").update(ORIGINAL).digest("base64");
    assert.equal(r.headers.get("Repr-Digest"), `sha-256=:${b64}:`);
  });
});

Deno.test("Range: single, suffix, open-ended, clamped, mid-header and mid-tensor", async () => {
  await withServer(async ({ url }) => {
    const n = ORIGINAL.length;
    const cases: [string, number, number][] = [
      ["bytes=0-7", 0, 8],
      ["bytes=0-0", 0, 1],
      ["bytes=3-900", 3, 901],
      ["bytes=-500", n - 500, n],
      ["bytes=500000-", 500000, n],
      ["bytes=65000-66000", 65000, 66001],
      ["bytes=100-99999999999", 100, n],
      ["bytes=-99999999", 0, n],
      ["BYTES = 10 - 19", 10, 20],
    ];
    for (const [range, a, b] of cases) {
      const r = await get(`${url}/${FILE}`, { Range: range });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers.get("Content-Range"), `bytes ${a}-${b - 1}/${n}`, range);
      assert.equal(r.headers.get("Content-Length"), String(b - a));
      assert.deepEqual(r.body, ORIGINAL.subarray(a, b), range);
    }
  });
});

Deno.test("Range: multiple ranges as multipart/byteranges, coalesced, each part exact", async () => {
  await withServer(async ({ url }) => {
    const n = ORIGINAL.length;
    const r = await get(`${url}/${FILE}`, { Range: "bytes=0-7, 100-199,150-299, 300-310,-20" });
    assert.equal(r.status, 206);
    assert.equal(Number(r.headers.get("Content-Length")), r.body.length);
    const parts = parseMultipart(r.headers.get("Content-Type")!, r.body);
    assert.deepEqual(parts.map((p) => [p.start, p.end]), [[0, 8], [100, 311], [n - 20, n]]);
    for (const p of parts) {
      assert.equal(p.total, n);
      assert.equal(p.type, "application/octet-stream");
      assert.deepEqual(p.bytes, ORIGINAL.subarray(p.start, p.end));
    }
    // Two ranges that are adjacent become one plain 206.
    const one = await get(`${url}/${FILE}`, { Range: "bytes=0-9,10-19" });
    assert.equal(one.headers.get("Content-Range"), `bytes 0-19/${n}`);
    // Past the limit of 16 the whole file is sent.
    const many = Array.from({ length: 17 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(",");
    const full = await get(`${url}/${FILE}`, { Range: `bytes=${many}` });
    assert.equal(full.status, 200);
    assert.equal(full.body.length, n);
    // Up to the limit, multipart.
    const sixteen = Array.from({ length: 16 }, (_, i) => `${i * 1000}-${i * 1000 + 1}`).join(",");
    const mp = await get(`${url}/${FILE}`, { Range: `bytes=${sixteen}` });
    assert.equal(mp.status, 206);
    assert.equal(parseMultipart(mp.headers.get("Content-Type")!, mp.body).length, 16);
  });
});

Deno.test("Range: 416 with Content-Range bytes */len; malformed headers are ignored (200)", async () => {
  await withServer(async ({ url }) => {
    const n = ORIGINAL.length;
    for (const range of [`bytes=${n}-`, `bytes=${n + 5}-${n + 10}`, "bytes=-0"]) {
      const r = await get(`${url}/${FILE}`, { Range: range });
      assert.equal(r.status, 416, range);
      assert.equal(r.headers.get("Content-Range"), `bytes */${n}`);
      assert.equal(JSON.parse(new TextDecoder().decode(r.body)).error, "range_not_satisfiable");
    }
    for (const range of ["bytes=5-1", "bytes=abc", "items=0-5", "bytes=", "bytes=1-2-3"]) {
      const r = await get(`${url}/${FILE}`, { Range: range });
      assert.equal(r.status, 200, range);
      assert.equal(r.body.length, n);
    }
  });
});

Deno.test("conditionals: If-None-Match 304, If-Range match 206 and mismatch 200", async () => {
  await withServer(async ({ url }) => {
    const etag = (await get(`${url}/${FILE}`, {}, "HEAD")).headers.get("ETag")!;
    const nm = await get(`${url}/${FILE}`, { "If-None-Match": `"zzz", ${etag}` });
    assert.equal(nm.status, 304);
    assert.equal(nm.body.length, 0);
    assert.equal(nm.headers.get("ETag"), etag);
    assert.equal((await get(`${url}/${FILE}`, { "If-None-Match": "*" })).status, 304);
    assert.equal((await get(`${url}/${FILE}`, { "If-None-Match": `W/${etag}` })).status, 304);
    const other = await get(`${url}/${FILE}`, { "If-None-Match": '"other"' });
    assert.equal(other.status, 200);
    const match = await get(`${url}/${FILE}`, { Range: "bytes=10-19", "If-Range": etag });
    assert.equal(match.status, 206);
    assert.deepEqual(match.body, ORIGINAL.subarray(10, 20));
    for (const ifRange of ['"stale"', `W/${etag}`, "Tue, 24 Nov 2026 10:00:00 GMT"]) {
      const r = await get(`${url}/${FILE}`, { Range: "bytes=10-19", "If-Range": ifRange });
      assert.equal(r.status, 200, ifRange);
      assert.equal(r.body.length, ORIGINAL.length);
    }
  });
});

Deno.test("If-Match on GET and HEAD: 412 unless it names the current ETag (RFC 9110 §13.1.1)", async () => {
  await withServer(async ({ url }) => {
    const at = `${url}/${FILE}`;
    const etag = (await get(at, {}, "HEAD")).headers.get("ETag")!;
    const zero = "bytes=0000000000000000000000000000005-0000000000000000000000000000009";
    for (const method of ["GET", "HEAD"]) {
      for (const ifMatch of ['"stale"', `W/${etag}`, '"stale", W/"x"']) {
        const r = await get(at, { "If-Match": ifMatch, Range: "bytes=0-9" }, method);
        assert.equal(r.status, 412, `${method} ${ifMatch}`);
        if (method === "GET") {
          assert.equal(JSON.parse(new TextDecoder().decode(r.body)).error, "precondition_failed");
        }
      }
      // §13.2.2: If-Match is evaluated before If-None-Match, so a stale If-Match is 412, not 304.
      const both = await get(at, { "If-Match": '"stale"', "If-None-Match": etag }, method);
      assert.equal(both.status, 412, method);
      for (const ifMatch of [etag, "*", `"other", ${etag}`]) {
        const r = await get(at, { "If-Match": ifMatch, Range: zero }, method);
        assert.equal(r.status, 206, `${method} ${ifMatch}`);
        assert.equal(r.headers.get("Content-Range"), `bytes 5-9/${ORIGINAL.length}`);
        if (method === "GET") assert.deepEqual(r.body, ORIGINAL.subarray(5, 10));
      }
      const nm = await get(at, { "If-Match": etag, "If-None-Match": etag }, method);
      assert.equal(nm.status, 304, method);
    }
    const tile = `${url}/v1/models/demo/stories260k/tensors/model.norm.weight?rows=0:1&cols=0:2`;
    assert.equal((await get(tile, { "If-Match": '"stale"' })).status, 412);
    const tileEtag = (await get(tile)).headers.get("ETag")!;
    assert.equal((await get(tile, { "If-Match": tileEtag })).status, 200);
  });
});

Deno.test("HEAD: the GET headers without a body, everywhere", async () => {
  await withServer(async ({ url }) => {
    const paths = [
      FILE,
      "demo/stories260k/resolve/main/config.json",
      "demo/stories260k/raw/main/model.safetensors",
      "api/models/demo/stories260k",
      "api/models/demo/stories260k/tree/main?recursive=true",
      "api/models/demo/stories260k/refs",
      "api/models/demo/stories260k/commits/main",
      "v1/models/demo/stories260k/manifest",
      `v1/models/demo/stories260k/tensors/model.embed_tokens.weight`,
      `v1/models/demo/stories260k/tensors/model.embed_tokens.weight?rows=0:2`,
      "v1/models/demo/stories260k/layers/model.layers.0",
      "v1/models/demo/stories260k/container",
      "v1/models",
      "healthz",
    ];
    for (const p of paths) {
      const g = await get(`${url}/${p}`);
      const h = await get(`${url}/${p}`, {}, "HEAD");
      assert.equal(h.status, g.status, p);
      assert.equal(h.body.length, 0, p);
      // /healthz reports its uptime, whose digits change between the two requests.
      if (p === "healthz") assert.match(h.headers.get("Content-Length") ?? "", /^\d+$/, p);
      else assert.equal(h.headers.get("Content-Length"), String(g.body.length), p);
      assert.equal(h.headers.get("ETag"), g.headers.get("ETag"), p);
      const hr = await get(`${url}/${p}`, { Range: "bytes=0-0" }, "HEAD");
      if (g.headers.get("Accept-Ranges")) {
        assert.equal(hr.status, 206, p);
        assert.equal(hr.headers.get("Content-Range"), `bytes 0-0/${g.body.length}`, p);
      }
    }
  });
});

Deno.test("Content-Digest: from the index for whole bodies, computed for ranges and tiles", async () => {
  await withServer(async ({ url }) => {
    const full = await get(`${url}/${FILE}`, { "Want-Content-Digest": "sha-256=5" });
    assert.equal(full.headers.get("Content-Digest"), full.headers.get("Repr-Digest"));
    const part = await get(`${url}/${FILE}`, {
      Range: "bytes=100-5000",
      "Want-Content-Digest": "sha-512=3, sha-256=9",
    });
    const b64 = createHash("sha256").update(ORIGINAL.subarray(100, 5001)).digest("base64");
    assert.equal(part.headers.get("Content-Digest"), `sha-256=:${b64}:`);
    const mp = await get(`${url}/${FILE}`, {
      Range: "bytes=0-1,10-11",
      "Want-Content-Digest": "sha-512",
    });
    const b512 = createHash("sha512").update(mp.body).digest("base64");
    assert.equal(mp.headers.get("Content-Digest"), `sha-512=:${b512}:`);
    const tile = await get(
      `${url}/v1/models/demo/stories260k/tensors/model.embed_tokens.weight?rows=1:3`,
      { "Want-Content-Digest": "sha-256", "Want-Repr-Digest": "sha-256" },
    );
    const tb64 = createHash("sha256").update(tile.body).digest("base64");
    assert.equal(tile.headers.get("Content-Digest"), `sha-256=:${tb64}:`);
    assert.equal(tile.headers.get("Repr-Digest"), `sha-256=:${tb64}:`);
    const none = await get(`${url}/${FILE}`, { Range: "bytes=0-1" });
    assert.equal(none.headers.get("Content-Digest"), null);
  });
});

Deno.test("container: raw bytes with Range, sha-256 ETag", async () => {
  await withServer(async ({ url }) => {
    const want = await demoContainer();
    const u = `${url}/v1/models/demo/stories260k/container`;
    const r = await get(u);
    assert.deepEqual(r.body, want);
    assert.equal(r.headers.get("ETag"), `"${await sha256Hex(want)}"`);
    const head = await get(u, { Range: "bytes=0-63" });
    assert.equal(head.status, 206);
    assert.deepEqual(head.body, want.subarray(0, 64));
    const mp = await get(u, { Range: "bytes=0-63,-100" });
    const parts = parseMultipart(mp.headers.get("Content-Type")!, mp.body);
    assert.deepEqual(parts[1].bytes, want.subarray(want.length - 100));
    // The container is not a repo file: Hugging Face clients see only the original files.
    const hf = await get(`${url}/demo/stories260k/resolve/main/model.tsr`);
    assert.equal(hf.status, 404);
  });
});

Deno.test("virtual file of a multi-tile model: random ranges decode only what they need", async () => {
  let original!: Uint8Array;
  await withServer(
    async ({ url, server }) => {
      const u = `${url}/test/tiny/resolve/main/model.safetensors`;
      const full = await get(u);
      assert.deepEqual(full.body, original);
      let seed = 7;
      const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
      for (let i = 0; i < 40; i++) {
        const a = rnd(original.length), b = a + rnd(original.length - a);
        const r = await get(u, { Range: `bytes=${a}-${b}` });
        assert.deepEqual(r.body, original.subarray(a, b + 1), `${a}-${b}`);
      }
      const figures = server.ctx.cache.figures();
      assert.ok(figures.hits > 0 && figures.misses > 0);
    },
    {},
    async (dir) => {
      original = await installSynthetic(dir);
    },
  );
});
