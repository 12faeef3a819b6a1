/**
 * Revisions, refs and commits over HTTP: a repo with three commits, old commits resolving to their
 * own bytes, branches, `list_repo_refs` / `list_repo_commits` shapes, pagination, and commits
 * that must name their parent.
 * @module
 */
import assert from "node:assert/strict";
import { listCommits } from "@huggingface/hub";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { publishFiles } from "../helpers/repos.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { get, withServer } from "../server/harness.ts";

const TOKEN = "tok";
const enc = new TextEncoder();
const model = (rows: number) =>
  buildSafetensors([{ name: "model.layers.0.w", dtype: "F32", shape: [rows, 8] }]);

Deno.test("commits: three commits; old commits resolve to old bytes, the branch to the new", async () => {
  await withServer(async ({ url }) => {
    const versions = [
      [{ path: "model.safetensors", bytes: model(4) }, {
        path: "config.json",
        bytes: enc.encode('{"v":1}'),
      }],
      [{ path: "config.json", bytes: enc.encode('{"v":2}') }],
      [{ path: "model.safetensors", bytes: model(6) }],
    ];
    const commits: string[] = [];
    for (const [i, files] of versions.entries()) {
      const r = await publishFiles(url, TOKEN, "acme/c", files, { title: `v${i + 1}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.parent, commits.at(-1) ?? null);
      commits.push(r.body.commit as string);
    }
    const file = (rev: string, path: string) => get(`${url}/acme/c/resolve/${rev}/${path}`);
    assert.equal(
      sha256Hex((await file(commits[0], "model.safetensors")).body),
      sha256Hex(model(4)),
    );
    assert.equal(new TextDecoder().decode((await file(commits[0], "config.json")).body), '{"v":1}');
    assert.equal(new TextDecoder().decode((await file(commits[1], "config.json")).body), '{"v":2}');
    assert.equal(
      sha256Hex((await file(commits[1], "model.safetensors")).body),
      sha256Hex(model(4)),
    );
    assert.equal(sha256Hex((await file("main", "model.safetensors")).body), sha256Hex(model(6)));
    assert.equal(
      (await file("main", "model.safetensors")).headers.get("X-Repo-Commit"),
      commits[2],
    );
    // The tree of an old commit, and its manifest.
    const oldTree = await (await fetch(`${url}/api/models/acme/c/tree/${commits[0]}`)).json();
    assert.equal(
      oldTree.find((e: { path: string }) => e.path === "model.safetensors").size,
      model(4).length,
    );
    const oldManifest =
      await (await fetch(`${url}/v1/models/acme/c/manifest?revision=${commits[0]}`)).json();
    assert.equal(oldManifest.commit, commits[0]);
    assert.deepEqual(oldManifest.tensors[0].shape, [4, 8]);

    // list_repo_commits: newest first, with ids, titles, dates and authors.
    const listed = await (await fetch(`${url}/api/models/acme/c/commits/main`)).json();
    assert.deepEqual(listed.map((c: { id: string }) => c.id), [...commits].reverse());
    assert.deepEqual(listed.map((c: { title: string }) => c.title), ["v3", "v2", "v1"]);
    for (const c of listed) {
      assert.ok(!Number.isNaN(Date.parse(c.date)));
      assert.equal(typeof c.authors[0].user, "string");
    }
    // Pages follow the Link header, as both clients do.
    const viaClient = await Array.fromAsync(
      listCommits({ repo: "acme/c", hubUrl: url, batchSize: 1 }),
    );
    assert.deepEqual(viaClient.map((c) => c.oid), [...commits].reverse());
    const older = await (await fetch(`${url}/api/models/acme/c/commits/${commits[1]}`)).json();
    assert.deepEqual(older.map((c: { id: string }) => c.id), [commits[1], commits[0]]);

    // list_repo_refs, and a new branch from an old commit.
    const branched = await publishFiles(url, TOKEN, "acme/c", [
      { path: "README.md", bytes: enc.encode("# c\n") },
    ], { revision: "old", parentCommit: commits[0] });
    assert.equal(branched.status, 201, JSON.stringify(branched.body));
    const refs = await (await fetch(`${url}/api/models/acme/c/refs`)).json();
    assert.deepEqual(refs, {
      branches: [
        { name: "main", ref: "refs/heads/main", targetCommit: commits[2] },
        { name: "old", ref: "refs/heads/old", targetCommit: branched.body.commit },
      ],
      converts: [],
      tags: [],
    });
    assert.equal(
      sha256Hex((await file("old", "model.safetensors")).body),
      sha256Hex(model(4)),
      "a branch from the first commit has its files",
    );
    assert.equal((await file("refs%2Fheads%2Fold", "README.md")).status, 200);
  }, { token: TOKEN });
});

Deno.test("commits: parentCommit makes a stale publish fail with 412, changing nothing", async () => {
  await withServer(async ({ url }) => {
    const first = await publishFiles(url, TOKEN, "acme/p", [
      { path: "a.txt", bytes: enc.encode("1") },
    ]);
    const head = first.body.commit as string;
    const second = await publishFiles(url, TOKEN, "acme/p", [
      { path: "a.txt", bytes: enc.encode("2") },
    ], { parentCommit: head });
    assert.equal(second.status, 201);
    const stale = await publishFiles(url, TOKEN, "acme/p", [
      { path: "a.txt", bytes: enc.encode("3") },
    ], { parentCommit: head });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.error, "precondition_failed");
    const now = await get(`${url}/acme/p/resolve/main/a.txt`);
    assert.equal(new TextDecoder().decode(now.body), "2");
    // A commit naming content that was never uploaded: 409, nothing changes.
    const missing = await fetch(`${url}/v1/models/acme/p/commits`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ files: [{ path: "b.txt", sha256: "0".repeat(64) }] }),
    });
    assert.equal(missing.status, 409);
    assert.equal((await missing.json()).error, "missing_upload");
    // The same tree again is no new commit.
    const same = await publishFiles(url, TOKEN, "acme/p", [
      { path: "a.txt", bytes: enc.encode("2") },
    ]);
    assert.equal(same.status, 200);
    assert.equal(same.body.created, false);
    assert.equal(same.body.commit, second.body.commit);
  }, { token: TOKEN });
});

Deno.test("commits: concurrent publishes to one branch are serialised, none is lost", async () => {
  await withServer(async ({ url }) => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        publishFiles(url, TOKEN, "acme/race", [
          { path: `f${i}.txt`, bytes: enc.encode(String(i)) },
        ])),
    );
    assert.ok(results.every((r) => r.status === 201), JSON.stringify(results.map((r) => r.body)));
    const tree = await (await fetch(`${url}/api/models/acme/race/tree/main`)).json();
    assert.deepEqual(
      tree.map((e: { path: string }) => e.path).sort(),
      ["f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt"],
    );
    const history = await (await fetch(`${url}/api/models/acme/race/commits/main`)).json();
    assert.equal(history.length, 6, "one commit each, in a line");
  }, { token: TOKEN });
});
