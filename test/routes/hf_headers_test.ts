/**
 * Header conformance of the Hugging Face routes, written from the Hub's documented behaviour and
 * what its clients read (huggingface_hub `get_hf_file_metadata`, `hf_hub_download`; huggingface.js
 * `fileDownloadInfo`):
 *
 * - `resolve` of an LFS file: `ETag` and `X-Linked-Etag` are the file's SHA-256 (quoted),
 *   `X-Linked-Size` its size; of a git file: `ETag` is the git blob id (SHA-1 of
 *   `blob <size>\0<bytes>`) and there is no `X-Linked-*`.
 * - `X-Repo-Commit` names the commit served, also on a 404 for a missing file (the Python client
 *   caches "no such file at this commit" with it); `X-Error-Code` tells RepoNotFound,
 *   RevisionNotFound and EntryNotFound apart.
 * - `raw` of an LFS file is its pointer, whose `ETag` is the pointer's git blob id.
 * - `Content-Disposition` names the file; `Last-Modified` is the date of the commit that last
 *   changed it; `Cache-Control` is immutable for a commit URL and revalidated for a branch URL.
 * - HEAD gives the GET headers without a body; `If-None-Match` and `If-Modified-Since` give 304.
 * - Every response carries `X-Request-Id`; CORS lets a browser make every documented call,
 *   conditional writes included, and read the headers above.
 * @module
 */
import assert from "node:assert/strict";
import { gitBlobOid, lfsPointer } from "../../src/store/git_objects.ts";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { publishFiles, type RepoFile, splitSafetensors } from "../helpers/repos.ts";
import { get, ORIGINAL, withServer } from "../server/harness.ts";

const TOKEN = "tok";
const enc = new TextEncoder();
const CONFIG = enc.encode('{"model_type":"llama"}\n');

function files(): RepoFile[] {
  return [
    ...splitSafetensors(ORIGINAL, 3),
    { path: "config.json", bytes: CONFIG },
    { path: "sub/notes.txt", bytes: enc.encode("notes\n") },
  ];
}

const IMMUTABLE = /\bimmutable\b/;
const REVALIDATE = /\bno-cache\b|\bmust-revalidate\b|max-age=0\b/;

Deno.test("hf headers: resolve, raw, HEAD, 304 and errors as the Hub sends them", async () => {
  await withServer(async ({ url }) => {
    const repo = files();
    const published = await publishFiles(url, TOKEN, "acme/h", repo);
    const commit = published.body.commit as string;
    const shard = repo[0];
    const shardSha = sha256Hex(shard.bytes);
    const lastModified = (await (await fetch(`${url}/api/models/acme/h/commits/main`)).json())[0]
      .date;

    for (const rev of ["main", commit]) {
      const base = `${url}/acme/h/resolve/${rev}`;
      // An LFS file.
      const lfs = await get(`${base}/${shard.path}`);
      assert.equal(lfs.status, 200);
      assert.equal(lfs.headers.get("ETag"), `"${shardSha}"`);
      assert.equal(lfs.headers.get("X-Linked-Etag"), `"${shardSha}"`);
      assert.equal(lfs.headers.get("X-Linked-Size"), String(shard.bytes.length));
      assert.equal(lfs.headers.get("Content-Length"), String(shard.bytes.length));
      assert.equal(lfs.headers.get("Accept-Ranges"), "bytes");
      assert.equal(lfs.headers.get("X-Repo-Commit"), commit);
      assert.match(lfs.headers.get("Content-Disposition")!, new RegExp(`filename="${shard.path}"`));
      assert.equal(
        Date.parse(lfs.headers.get("Last-Modified")!),
        Math.floor(Date.parse(lastModified) / 1000) * 1000,
      );
      assert.match(lfs.headers.get("Cache-Control")!, rev === commit ? IMMUTABLE : REVALIDATE);
      assert.equal(sha256Hex(lfs.body), shardSha);
      // A git file.
      const git = await get(`${base}/config.json`);
      assert.equal(git.headers.get("ETag"), `"${gitBlobOid(CONFIG)}"`);
      assert.equal(git.headers.get("X-Linked-Etag"), null);
      assert.equal(git.headers.get("X-Linked-Size"), null);
      assert.equal(git.headers.get("X-Repo-Commit"), commit);
      assert.match(git.headers.get("Content-Type")!, /^application\/json/);
      assert.match(git.headers.get("Cache-Control")!, rev === commit ? IMMUTABLE : REVALIDATE);
      // In a folder.
      const nested = await get(`${base}/sub/notes.txt`);
      assert.match(nested.headers.get("Content-Disposition")!, /filename="notes.txt"/);
      // HEAD: the same headers, no body.
      for (const path of [shard.path, "config.json"]) {
        const g = await get(`${base}/${path}`), h = await get(`${base}/${path}`, {}, "HEAD");
        assert.equal(h.status, 200);
        assert.equal(h.body.length, 0);
        for (const k of ["ETag", "X-Repo-Commit", "Content-Length", "Last-Modified"]) {
          assert.equal(h.headers.get(k), g.headers.get(k), `${path} ${k}`);
        }
      }
      // Revalidation.
      const etag = lfs.headers.get("ETag")!;
      const inm = await get(`${base}/${shard.path}`, { "If-None-Match": etag });
      assert.equal(inm.status, 304);
      assert.equal(inm.headers.get("ETag"), etag);
      const ims = await get(`${base}/${shard.path}`, {
        "If-Modified-Since": lfs.headers.get("Last-Modified")!,
      });
      assert.equal(ims.status, 304);
      const older = new Date(Date.parse(lastModified) - 86_400_000).toUTCString();
      assert.equal(
        (await get(`${base}/${shard.path}`, { "If-Modified-Since": older })).status,
        200,
      );
    }

    // raw: the LFS pointer, with the pointer's git blob id.
    const raw = await get(`${url}/acme/h/raw/main/${shard.path}`);
    const pointer = lfsPointer(shardSha, shard.bytes.length);
    assert.equal(new TextDecoder().decode(raw.body), pointer);
    assert.equal(raw.headers.get("ETag"), `"${gitBlobOid(enc.encode(pointer))}"`);
    assert.equal(raw.headers.get("X-Repo-Commit"), commit);

    // Errors: the kind clients branch on, the commit on a missing file, a request id everywhere.
    const cases: [string, string][] = [
      ["/acme/nope/resolve/main/config.json", "RepoNotFound"],
      ["/acme/h/resolve/v9/config.json", "RevisionNotFound"],
      ["/acme/h/resolve/main/missing.json", "EntryNotFound"],
    ];
    for (const [path, code] of cases) {
      const r = await get(`${url}${path}`);
      assert.equal(r.status, 404, path);
      assert.equal(r.headers.get("X-Error-Code"), code, path);
      assert.ok(r.headers.get("X-Error-Message"), path);
      assert.match(r.headers.get("X-Request-Id")!, /^[0-9a-f-]{36}$/, path);
    }
    assert.equal(
      (await get(`${url}/acme/h/resolve/main/missing.json`)).headers.get("X-Repo-Commit"),
      commit,
    );
    // A client's own request id comes back.
    assert.equal(
      (await get(`${url}/healthz`, { "X-Request-Id": "trace-42" })).headers.get("X-Request-Id"),
      "trace-42",
    );
  }, { token: TOKEN });
});

Deno.test("hf headers: API routes revalidate on branches, are immutable on commits, carry ids", async () => {
  await withServer(async ({ url }) => {
    const { body } = await publishFiles(url, TOKEN, "acme/h", files());
    const commit = body.commit as string;
    const api = [
      ["/api/models/acme/h", false],
      ["/api/models/acme/h/revision/main", false],
      [`/api/models/acme/h/revision/${commit}`, true],
      ["/api/models/acme/h/tree/main?recursive=true", false],
      [`/api/models/acme/h/tree/${commit}/sub`, true],
      ["/api/models/acme/h/commits/main", false],
      ["/api/models/acme/h/refs", false],
    ] as const;
    for (const [path, immutable] of api) {
      const r = await get(`${url}${path}`);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get("Content-Type")!, /^application\/json/, path);
      assert.match(r.headers.get("Cache-Control")!, immutable ? IMMUTABLE : REVALIDATE, path);
      assert.ok(r.headers.get("X-Request-Id"), path);
      const etag = r.headers.get("ETag")!;
      assert.equal((await get(`${url}${path}`, { "If-None-Match": etag })).status, 304, path);
      const h = await get(`${url}${path}`, {}, "HEAD");
      assert.equal(h.status, 200, path);
      assert.equal(h.body.length, 0, path);
    }
    const pi = await fetch(`${url}/api/models/acme/h/paths-info/main`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "paths=config.json&paths=sub&paths=nope&expand=True",
    });
    const entries = await pi.json();
    assert.deepEqual(entries.map((e: { path: string; type: string }) => [e.path, e.type]), [
      ["config.json", "file"],
      ["sub", "directory"],
    ]);
    assert.equal(entries[0].lastCommit.id, commit);
    assert.ok(pi.headers.get("X-Request-Id"));
  }, { token: TOKEN });
});

Deno.test("hf headers: CORS lets a browser make every documented call and read the headers", async () => {
  await withServer(async ({ url }) => {
    const preflight = await fetch(`${url}/v1/models/acme/h/files/config.json`, {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization, if-match, if-none-match, content-type",
      },
    });
    await preflight.body?.cancel();
    assert.ok(preflight.status === 204 || preflight.status === 200);
    assert.equal(preflight.headers.get("Access-Control-Allow-Origin"), "*");
    const methods = preflight.headers.get("Access-Control-Allow-Methods")!.split(/,\s*/);
    for (const m of ["GET", "HEAD", "PUT", "POST", "DELETE"]) assert.ok(methods.includes(m), m);
    const allowed = preflight.headers.get("Access-Control-Allow-Headers")!.toLowerCase();
    for (const h of ["if-match", "if-none-match", "authorization", "range", "content-type"]) {
      assert.ok(allowed.includes(h), h);
    }
    const r = await fetch(`${url}/demo/stories260k/resolve/main/model.safetensors`, {
      method: "HEAD",
      headers: { Origin: "https://app.example" },
    });
    const exposed = r.headers.get("Access-Control-Expose-Headers")!.toLowerCase();
    for (
      const h of [
        "etag",
        "x-repo-commit",
        "x-linked-etag",
        "x-linked-size",
        "content-range",
        "last-modified",
        "x-request-id",
        "x-error-code",
        "link",
      ]
    ) assert.ok(exposed.includes(h), h);
  });
});
