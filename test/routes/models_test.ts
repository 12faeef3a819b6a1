import assert from "node:assert/strict";
import { createApp } from "../../src/server/app.ts";
import { defaultConfig } from "../../src/server/config.ts";
import { closeContext, createServerContext } from "../../src/server/server.ts";
import { get, installDemo, ORIGINAL, sha256Hex, withServer } from "../server/harness.ts";

const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

Deno.test("models: list, one model, manifest with layers in load order", async () => {
  await withServer(
    async ({ url }) => {
      const list = json((await get(`${url}/v1/models`)).body);
      assert.deepEqual(list, { models: [{ id: "demo/stories260k", revisions: ["main", "v2"] }] });
      const one = json((await get(`${url}/v1/models/demo/stories260k`)).body);
      assert.deepEqual(one.revisions, ["main", "v2"]);
      const r = await get(`${url}/v1/models/demo/stories260k/manifest`);
      assert.equal(r.status, 200);
      const m = json(r.body);
      assert.equal(m.id, "demo/stories260k");
      assert.equal(m.revision, "main");
      assert.equal(m.sha256, await sha256Hex(ORIGINAL));
      assert.equal(m.size, ORIGINAL.length);
      assert.equal(m.tensors.length, 47);
      assert.equal(m.layers[0].key, "model.embed_tokens");
      assert.deepEqual(m.layers.slice(1, 6).map((l: { key: string }) => l.key), [
        "model.layers.0",
        "model.layers.1",
        "model.layers.2",
        "model.layers.3",
        "model.layers.4",
      ]);
      assert.equal(
        m.layers.reduce((n: number, l: { rawBytes: number }) => n + l.rawBytes, 0) + 8 +
          Number(new DataView(ORIGINAL.buffer).getBigUint64(0, true)),
        ORIGINAL.length,
      );
      const t = m.tensors[0];
      for (
        const k of [
          "name",
          "dtype",
          "shape",
          "layer",
          "offsets",
          "rawBytes",
          "storedBytes",
          "sha256",
          "tile",
        ]
      ) {
        assert.ok(k in t, k);
      }
      assert.match(m.commit, /^[0-9a-f]{40}$/);
      // Container URLs name the commit: immutable.
      assert.equal(
        m.container.url,
        `/v1/models/demo/stories260k/container?revision=${m.commit}&file=model.safetensors`,
      );
      assert.equal(m.container.headLength, 64);
      assert.deepEqual(m.files.map((f: { path: string }) => f.path), [
        "config.json",
        "model.safetensors",
      ]);
      assert.ok(m.tensors.every((t: { file: string }) => t.file === "model.safetensors"));
      // Manifests are cacheable by content hash.
      const etag = r.headers.get("ETag")!;
      assert.equal(
        (await get(`${url}/v1/models/demo/stories260k/manifest`, { "If-None-Match": etag })).status,
        304,
      );
      const v2 = json((await get(`${url}/v1/models/demo/stories260k/manifest?revision=v2`)).body);
      assert.equal(v2.revision, "v2");
      assert.equal(v2.sha256, m.sha256);
      assert.notEqual(v2.commit, m.commit, "a branch of its own, imported separately");
    },
    {},
    async (dir) => {
      await installDemo(dir);
      await installDemo(dir, "demo", "stories260k", "v2");
    },
  );
});

Deno.test("errors: JSON bodies, 404 kinds, 405 with Allow", async () => {
  await withServer(async ({ url }) => {
    const cases: [string, number, string][] = [
      ["/v1/models/demo/nope/manifest", 404, "model_not_found"],
      ["/v1/models/demo/stories260k/manifest?revision=v9", 404, "revision_not_found"],
      ["/v1/models/demo/stories260k/files/tokenizer.json", 404, "file_not_found"],
      ["/v1/models/demo/stories260k/tensors/nope", 404, "tensor_not_found"],
      ["/nothing/here/at/all/x/y/z", 404, "not_found"],
      ["/demo/stories260k/resolve/main/nope.json", 404, "file_not_found"],
    ];
    for (const [path, status, kind] of cases) {
      const r = await get(`${url}${path}`);
      assert.equal(r.status, status, path);
      assert.match(r.headers.get("Content-Type")!, /^application\/json/);
      const body = json(r.body);
      assert.equal(body.error, kind, path);
      assert.equal(typeof body.message, "string");
    }
    const post = await fetch(`${url}/v1/models/demo/stories260k/manifest`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("Allow"), "OPTIONS, GET, HEAD");
    assert.equal((await post.json()).error, "method_not_allowed");
  });
});

Deno.test("path traversal: ids, revisions and files never leave the models folder", async () => {
  await withServer(async ({ url, dir }) => {
    await Deno.writeTextFile(`${dir}/../tessera_secret.json`, '{"secret":1}').catch(() => {});
    const attempts = [
      "/v1/models/..%2F..%2Fetc/passwd/manifest",
      "/v1/models/demo/stories260k/manifest?revision=..",
      "/v1/models/demo/stories260k/manifest?revision=../../..",
      "/v1/models/demo/stories260k/manifest?revision=%2e%2e",
      "/v1/models/demo/stories260k/manifest?revision=a%00b",
      "/v1/models/demo/stories260k/manifest?revision=a%5Cb",
      "/v1/models/demo/stories260k/files/..%2F..%2F..%2Ftessera_secret.json",
      "/v1/models/demo/stories260k/files/%2Fetc%2Fpasswd",
      "/v1/models/demo/stories260k/files/..%5Cconfig.json",
      "/v1/models/demo/stories260k/files/.git/config",
      "/v1/models/demo/%2e%2e/manifest",
      "/demo/stories260k/resolve/main/..%2F..%2F..%2Ftessera_secret.json",
      "/demo/stories260k/resolve/main/../../../../tessera_secret.json",
      "/demo/stories260k/resolve/%2e%2e/config.json",
      "/demo/stories260k/resolve/main/%2e%2e%2fmain%2fconfig.json",
      "/demo/stories260k/resolve/main/sub/config.json",
      "/demo/stories260k/resolve/main/config.json%00.txt",
      "/%2e%2e/stories260k/resolve/main/config.json",
      "/api/models/demo/..%2F..",
      "/.tmp/x/resolve/main/model.tsr",
    ];
    for (const path of attempts) {
      const r = await get(`${url}${path}`);
      assert.ok(r.status === 400 || r.status === 404, `${path}: ${r.status}`);
      assert.ok(!new TextDecoder().decode(r.body).includes('"secret":1'), path);
    }
    await Deno.remove(`${dir}/../tessera_secret.json`).catch(() => {});
  });
});

Deno.test("operations: healthz, metrics in Prometheus text, openapi.json from the schemas", async () => {
  await withServer(async ({ url, logs }) => {
    const h = json((await get(`${url}/healthz`)).body);
    assert.equal(h.status, "ok");
    await get(`${url}/demo/stories260k/resolve/main/model.safetensors`);
    await get(`${url}/demo/stories260k/resolve/main/model.safetensors`);
    const text = new TextDecoder().decode((await get(`${url}/metrics`)).body);
    assert.match(text, /^# TYPE tessera_http_requests_total counter$/m);
    assert.match(
      text,
      /^tessera_http_requests_total\{route="\/:org\/:name\/resolve\/:revision\/:path\{\.\+\}",method="GET",status="200"\} 2$/m,
    );
    assert.ok(
      text.includes(
        'tessera_http_response_bytes_total{route="/:org/:name/resolve/:revision/:path{.+}"} 1050032\n',
      ),
    );
    assert.match(text, /^tessera_cache_hits_total \d+$/m);
    assert.match(text, /^tessera_cache_hit_ratio 0\.\d+$/m);
    assert.match(text, /^tessera_decode_megabytes_per_second \d/m);
    const doc = json((await get(`${url}/openapi.json`)).body);
    assert.equal(doc.openapi, "3.1.0");
    for (
      const p of [
        "/v1/models",
        "/v1/models/{org}/{name}/manifest",
        "/v1/models/{org}/{name}/tensors/{tensor}",
        "/v1/models/{org}/{name}/layers/{layer}",
        "/v1/models/{org}/{name}/container",
        "/{org}/{name}/resolve/{revision}/{path}",
        "/api/models/{org}/{name}",
      ]
    ) assert.ok(doc.paths[p], p);
    assert.ok(doc.components.schemas.Manifest.properties.tensors);
    // One access-log line per request, with method, path, status, bytes and time.
    assert.ok(
      logs.some((l) =>
        / [0-9a-f-]{36} GET \/demo\/stories260k\/resolve\/main\/model\.safetensors 200 525016B \d+\.\dms$/
          .test(l)
      ),
      logs.join("\n"),
    );
  });
});

Deno.test("app.request: the app answers without a socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera_app_" });
  try {
    await installDemo(dir);
    const ctx = await createServerContext(
      defaultConfig({ modelsDir: dir, workers: 0, quiet: true }),
      () => {},
    );
    try {
      const app = createApp(ctx);
      const r = await app.request("/v1/models/demo/stories260k/tensors/model.norm.weight");
      assert.equal(r.status, 200);
      assert.equal((await r.arrayBuffer()).byteLength, 128);
      const h = await app.request("/healthz");
      assert.equal((await h.json()).status, "ok");
    } finally {
      await closeContext(ctx);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
