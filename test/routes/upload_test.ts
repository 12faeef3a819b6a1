import assert from "node:assert/strict";
import { S3_SUITE } from "../helpers/store_under_test.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { gitBlobOid } from "../../src/store/git_objects.ts";
import { get, ORIGINAL, sha256Hex, withServer } from "../server/harness.ts";

const TOKEN = "s3cret-token";
const auth = { Authorization: `Bearer ${TOKEN}` };
const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

const OTHER: Uint8Array<ArrayBuffer> = buildSafetensors([
  { name: "model.layers.0.w", dtype: "F32", shape: [64, 48] },
  { name: "model.layers.1.w", dtype: "BF16", shape: [10, 300] },
]) as Uint8Array<ArrayBuffer>;

async function put(url: string, body: BodyInit | null, headers: Record<string, string> = auth) {
  const res = await fetch(url, { method: "PUT", body, headers });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

function streamOf(bytes: Uint8Array, piece = 65536): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

Deno.test("upload: disabled without a token (403), 401 without or with a wrong bearer", async () => {
  await withServer(async ({ url }) => {
    const r = await put(`${url}/v1/models/a/b`, ORIGINAL, {});
    assert.equal(r.status, 403);
    assert.equal(r.body.error, "writes_disabled");
    const d = await fetch(`${url}/v1/models/demo/stories260k`, { method: "DELETE" });
    assert.equal(d.status, 403);
    await d.body?.cancel();
  });
  await withServer(async ({ url, dir }) => {
    const tries: Record<string, string>[] = [
      {},
      { Authorization: "Bearer nope" },
      { Authorization: "Basic eA==" },
    ];
    for (const headers of tries) {
      const r = await put(`${url}/v1/models/a/b`, ORIGINAL, headers);
      assert.equal(r.status, 401);
      assert.equal(r.headers.get("WWW-Authenticate"), 'Bearer realm="tessera"');
    }
    const d = await fetch(`${url}/v1/models/demo/stories260k`, { method: "DELETE" });
    assert.equal(d.status, 401);
    await d.body?.cancel();
    const models = json((await get(`${url}/v1/models`)).body).models;
    assert.deepEqual(models.map((m: { id: string }) => m.id), ["demo/stories260k"]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/.tmp`)], []);
  }, { token: TOKEN });
});

Deno.test("upload: packs, verifies and publishes; the virtual file is the upload", async () => {
  await withServer(async ({ url }) => {
    const r = await put(`${url}/v1/models/acme/tiny?mode=fast`, streamOf(ORIGINAL));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.sha256, await sha256Hex(ORIGINAL));
    assert.equal(r.body.created, true);
    const file = await get(`${url}/acme/tiny/resolve/main/model.safetensors`);
    assert.deepEqual(file.body, ORIGINAL);
    const again = await put(`${url}/v1/models/acme/tiny?revision=main`, OTHER);
    assert.equal(again.status, 200);
    assert.equal(again.body.created, false);
    const now = await get(`${url}/acme/tiny/resolve/main/model.safetensors`);
    assert.deepEqual(now.body, OTHER);
    const m = json((await get(`${url}/v1/models/acme/tiny/manifest`)).body);
    assert.equal(m.mode, "best");
    const v2 = await put(`${url}/v1/models/acme/tiny?revision=v2&mode=fast`, ORIGINAL);
    assert.equal(v2.status, 201);
    const list = json((await get(`${url}/v1/models`)).body);
    assert.deepEqual(list.models.find((x: { id: string }) => x.id === "acme/tiny").revisions, [
      "main",
      "v2",
    ]);
  }, { token: TOKEN, packInline: false });
});

Deno.test("upload: oversized (413) and malformed (400) uploads change nothing", async () => {
  await withServer(async ({ url, dir }) => {
    const manifest = async () =>
      json((await get(`${url}/v1/models/demo/stories260k/manifest`)).body);
    const before = (await manifest()).commit;
    const big = await put(`${url}/v1/models/demo/stories260k`, ORIGINAL);
    assert.equal(big.status, 413);
    assert.equal(big.body.error, "too_large");
    const chunked = await put(`${url}/v1/models/demo/stories260k`, streamOf(ORIGINAL));
    assert.equal(chunked.status, 413);
    for (
      const [body, kind] of [
        [new Uint8Array(3), "file_too_small"],
        [buildBad('{"a":'), "header_invalid_json"],
        [buildBad('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,9]}}'), "size_mismatch"],
      ] as const
    ) {
      const r = await put(`${url}/v1/models/demo/stories260k`, body as Uint8Array<ArrayBuffer>);
      assert.equal(r.status, 400);
      assert.equal(r.body.error, kind);
    }
    const bad = await put(`${url}/v1/models/..%2Fx/y`, OTHER);
    assert.equal(bad.status, 400);
    assert.equal((await manifest()).commit, before);
    assert.deepEqual([...Deno.readDirSync(`${dir}/.tmp`)], [], "no temporary file left behind");
    assert.deepEqual(json((await get(`${url}/v1/models`)).body).models.length, 1);
  }, { token: TOKEN, maxUploadBytes: 100_000 });
});

function buildBad(header: string): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

Deno.test("upload: concurrent uploads of one model run one after the other; a reader keeps its file", async () => {
  await withServer(async ({ url, server }) => {
    // A download of the current version, paused after its first bytes.
    const res = await fetch(`${url}/demo/stories260k/resolve/main/model.safetensors`);
    const reader = res.body!.getReader();
    const first = await reader.read();
    const results = await Promise.all([
      put(`${url}/v1/models/demo/stories260k?mode=fast`, OTHER),
      put(`${url}/v1/models/demo/stories260k?mode=fast`, streamOf(ORIGINAL, 4096)),
      put(`${url}/v1/models/demo/stories260k?mode=fast`, OTHER),
    ]);
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200]);
    // The paused download still gets the old file, whole and exact.
    const parts = [first.value!];
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
    }
    const old = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) old.set(p, (at += p.length) - p.length);
    assert.deepEqual(old, ORIGINAL);
    // The final state is one of the uploads, complete and consistent.
    const m = json((await get(`${url}/v1/models/demo/stories260k/manifest`)).body);
    const file = await get(`${url}/demo/stories260k/resolve/main/model.safetensors`);
    assert.equal(await sha256Hex(file.body), m.sha256);
    assert.ok([await sha256Hex(OTHER), await sha256Hex(ORIGINAL)].includes(m.sha256));
    assert.ok(server.ctx.store.leases.open <= 2, "containers of no revision are not held");
  }, { token: TOKEN });
});

Deno.test("delete: a branch goes, then 404; files: put, get, validate, delete", async () => {
  await withServer(async ({ url, dir }) => {
    const cfg = new TextEncoder().encode('{"model_type":"llama","vocab_size":512}');
    const p = await put(`${url}/v1/models/demo/stories260k/files/tokenizer_config.json`, cfg);
    assert.equal(p.status, 201);
    assert.equal(p.body.sha256, await sha256Hex(cfg));
    const g = await get(`${url}/v1/models/demo/stories260k/files/tokenizer_config.json`);
    assert.deepEqual(g.body, cfg);
    assert.equal(g.headers.get("Content-Type"), "application/json; charset=utf-8");
    const hf = await get(`${url}/demo/stories260k/resolve/main/tokenizer_config.json`);
    assert.deepEqual(hf.body, cfg);
    assert.equal(
      (await put(`${url}/v1/models/demo/stories260k/files/x.json`, "{nope")).body.error,
      "invalid_file",
    );
    // Any file, at any path: tokenizer models are binary, diffusers keep configs in folders.
    const bin = await put(`${url}/v1/models/demo/stories260k/files/sub/x.bin`, "a\0b");
    assert.equal(bin.status, 201, JSON.stringify(bin.body));
    assert.equal(
      (await get(`${url}/demo/stories260k/resolve/main/sub/x.bin`)).body.length,
      3,
    );
    assert.equal(
      (await put(`${url}/v1/models/demo/stories260k/files/..%2Fx.json`, "{}")).status,
      400,
    );
    const del = await fetch(`${url}/v1/models/demo/stories260k/files/tokenizer_config.json`, {
      method: "DELETE",
      headers: auth,
    });
    assert.equal(del.status, 204);
    assert.equal(
      (await get(`${url}/v1/models/demo/stories260k/files/tokenizer_config.json`)).status,
      404,
    );

    const d = await fetch(`${url}/v1/models/demo/stories260k?revision=main`, {
      method: "DELETE",
      headers: auth,
    });
    assert.equal(d.status, 204);
    assert.equal((await get(`${url}/v1/models/demo/stories260k/manifest`)).status, 404);
    const again = await fetch(`${url}/v1/models/demo/stories260k`, {
      method: "DELETE",
      headers: auth,
    });
    assert.equal(again.status, 404);
    await again.body?.cancel();
    assert.deepEqual(json((await get(`${url}/v1/models`)).body).models, []);
    // The branch's contents went with it (on S3 they stay for the age grace, gc_test shows it).
    if (!S3_SUITE) {
      assert.deepEqual(
        [...Deno.readDirSync(`${dir}/blobs`)].flatMap((
          d,
        ) => [...Deno.readDirSync(`${dir}/blobs/${d.name}`)]),
        [],
      );
    }
  }, { token: TOKEN });
});

Deno.test("conditional writes: If-Match and If-None-Match on PUT and DELETE, 412 changes nothing", async () => {
  await withServer(async ({ url }) => {
    const model = `${url}/v1/models/acme/cond`;
    const etag = async (bytes: Uint8Array) => `"${await sha256Hex(bytes)}"`;
    // Create-only: succeeds once, then 412 (before the upload is read).
    const first = await put(model, ORIGINAL, { ...auth, "If-None-Match": "*" });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const twice = await put(model, OTHER, { ...auth, "If-None-Match": "*" });
    assert.equal(twice.status, 412);
    assert.equal(twice.body.error, "precondition_failed");
    // Replace only the version the client saw: the file's ETag as served.
    const served = await get(`${url}/acme/cond/resolve/main/model.safetensors`);
    assert.equal(served.headers.get("ETag"), await etag(ORIGINAL));
    const stale = await put(model, OTHER, { ...auth, "If-Match": await etag(OTHER) });
    assert.equal(stale.status, 412);
    const weak = await put(model, OTHER, { ...auth, "If-Match": `W/${await etag(ORIGINAL)}` });
    assert.equal(weak.status, 412);
    assert.deepEqual((await get(`${url}/acme/cond/resolve/main/model.safetensors`)).body, ORIGINAL);
    const ok = await put(model, OTHER, { ...auth, "If-Match": await etag(ORIGINAL) });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(
      (await put(`${model}?revision=v9`, OTHER, { ...auth, "If-Match": "*" })).status,
      412,
    );
    // Delete only what the client saw.
    const del = (headers: Record<string, string>) =>
      fetch(model, { method: "DELETE", headers: { ...auth, ...headers } });
    const staleDelete = await del({ "If-Match": await etag(ORIGINAL) });
    assert.equal(staleDelete.status, 412);
    await staleDelete.body?.cancel();
    assert.deepEqual((await get(`${url}/acme/cond/resolve/main/model.safetensors`)).body, OTHER);
    const gone = await del({ "If-Match": await etag(OTHER) });
    assert.equal(gone.status, 204);
    await gone.body?.cancel();

    // Other files: the same rules against the ETag they are served with, the git blob id.
    const file = `${url}/v1/models/demo/stories260k/files/notes.txt`;
    const a = new TextEncoder().encode("first"), b = new TextEncoder().encode("second");
    const oid = (bytes: Uint8Array) => `"${gitBlobOid(bytes)}"`;
    assert.equal((await put(file, a, { ...auth, "If-None-Match": "*" })).status, 201);
    assert.equal((await get(file)).headers.get("ETag"), oid(a));
    assert.equal((await put(file, b, { ...auth, "If-None-Match": "*" })).status, 412);
    assert.equal((await put(file, b, { ...auth, "If-Match": oid(b) })).status, 412);
    assert.equal((await put(file, b, { ...auth, "If-Match": oid(a) })).status, 200);
    const sidecarDelete = await fetch(file, {
      method: "DELETE",
      headers: { ...auth, "If-Match": oid(a) },
    });
    assert.equal(sidecarDelete.status, 412);
    await sidecarDelete.body?.cancel();
    assert.deepEqual((await get(file)).body, b);
  }, { token: TOKEN });
});
