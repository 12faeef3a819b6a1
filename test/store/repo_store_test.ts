import assert from "node:assert/strict";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { StoreError } from "../../src/store/errors.ts";
import { openRepoStore, type RepoStore } from "../../src/store/repo_store.ts";
import { withTempDir } from "../helpers/container.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";

const enc = new TextEncoder();
const streamOf = (b: Uint8Array) => new Blob([b as Uint8Array<ArrayBuffer>]).stream();
const kind = (k: string) => (e: unknown) => e instanceof StoreError && e.kind === k;

const SHARD = (n: number) =>
  buildSafetensors([{ name: `model.layers.${n}.w`, dtype: "F32", shape: [8, 16] }]);

async function withStore(fn: (s: RepoStore, dir: string) => Promise<void>) {
  await withTempDir(async (dir) => {
    const s = await openRepoStore({ store: `file:${dir}/models`, packInline: true });
    try {
      await fn(s, `${dir}/models`);
    } finally {
      await s.close();
    }
  });
}

async function put(s: RepoStore, path: string, bytes: Uint8Array, branch = "main") {
  const staged = await s.receive(streamOf(bytes), { maxBytes: 1 << 24 });
  return s.publish("acme", "m", branch, {
    title: `add ${path}`,
    files: [{ path, content: staged }],
  });
}

Deno.test("repo store: a multi-file commit, then history with old commits resolving", async () => {
  await withStore(async (s) => {
    const a = SHARD(0), b = SHARD(1), cfg = enc.encode('{"model_type":"x"}');
    const files = [];
    for (const [path, bytes] of [["a/model.safetensors", a], ["b.safetensors", b]] as const) {
      files.push({ path, content: await s.receive(streamOf(bytes), { maxBytes: 1 << 20 }) });
    }
    files.push({ path: "config.json", content: await s.receive(streamOf(cfg), { maxBytes: 99 }) });
    const first = await s.publish("acme", "m", null, { title: "first", files });
    assert.equal(first.created, true);
    assert.deepEqual(first.commit.files.map((f) => f.path), [
      "a/model.safetensors",
      "b.safetensors",
      "config.json",
    ]);
    const [fa, , fc] = first.commit.files;
    assert.ok(fa.container && fa.lfs && fa.sha256 === sha256Hex(a));
    assert.ok(!fc.container && !fc.lfs);
    const second = await put(s, "config.json", enc.encode('{"model_type":"y"}'));
    const third = await put(s, "README.md", enc.encode("# m\n"));
    assert.equal(third.commit.parent, second.commit.id);
    const head = await s.reader.resolve("acme", "m", "main");
    assert.equal(head.commit.id, third.commit.id);
    // The unchanged shard keeps the commit that last changed it.
    const shard = head.commit.files.find((f) => f.path === "a/model.safetensors")!;
    assert.equal(shard.lastCommit?.id, first.commit.id);
    assert.equal(head.commit.files.find((f) => f.path === "README.md")!.lastCommit, undefined);
    const old = await s.reader.resolve("acme", "m", first.commit.id);
    assert.equal(old.branch, null);
    const oldCfg = old.commit.files.find((f) => f.path === "config.json")!;
    assert.deepEqual(await s.readRaw(oldCfg, 1000), cfg);
    const ids = [];
    for await (const c of s.reader.history("acme", "m", head.commit)) ids.push(c.id);
    assert.deepEqual(ids, [third.commit.id, second.commit.id, first.commit.id]);
    // The same tree again makes no commit.
    const same = await put(s, "README.md", enc.encode("# m\n"));
    assert.equal(same.created, false);
    assert.equal(same.commit.id, third.commit.id);
  });
});

Deno.test("repo store: refusals change nothing", async () => {
  await withStore(async (s, dir) => {
    await put(s, "model.safetensors", SHARD(0));
    const before = (await s.reader.resolve("acme", "m", "main")).commit.id;
    const cfg = () => s.receive(streamOf(enc.encode("{}")), { maxBytes: 10 });
    // A file only into an existing branch; a missing upload; a bad JSON; a stale parent.
    await assert.rejects(
      async () =>
        s.publish("acme", "nope", "main", {
          title: "x",
          files: [{ path: "c.json", content: await cfg() }],
          requireBranch: true,
        }),
      kind("model_not_found"),
    );
    await assert.rejects(
      s.publish("acme", "m", "main", {
        title: "x",
        files: [{ path: "x", content: { sha256: "0".repeat(64) } }],
      }),
      kind("missing_upload"),
    );
    await assert.rejects(
      async () =>
        s.publish("acme", "m", "main", {
          title: "x",
          files: [{
            path: "c.json",
            content: await s.receive(streamOf(enc.encode("{")), { maxBytes: 9 }),
          }],
        }),
      kind("invalid_file"),
    );
    await assert.rejects(
      async () =>
        s.publish("acme", "m", "main", {
          title: "x",
          parentCommit: "1".repeat(40),
          files: [{ path: "c.json", content: await cfg() }],
        }),
      kind("precondition_failed"),
    );
    await assert.rejects(
      async () =>
        s.publish("acme", "m", "main", {
          title: "x",
          files: [{ path: "w.safetensors", content: await cfg() }],
        }),
      kind("invalid_file"),
    );
    assert.equal((await s.reader.resolve("acme", "m", "main")).commit.id, before);
    assert.deepEqual([...Deno.readDirSync(`${dir}/.tmp`)], [], "scratch is empty");
    assert.deepEqual((await s.reader.list()).map((r) => r.id), ["acme/m"]);
  });
});

Deno.test("repo store: uploads by content, then a commit naming them", async () => {
  await withStore(async (s) => {
    const a = SHARD(3);
    const sha = sha256Hex(a);
    await assert.rejects(
      s.upload("f".repeat(64), streamOf(a), { maxBytes: 1 << 20 }),
      kind("digest_mismatch"),
    );
    const up = await s.upload(sha, streamOf(a), { maxBytes: 1 << 20 });
    assert.equal(up.existed, false);
    assert.ok(up.container);
    assert.equal((await s.upload(sha, streamOf(a), { maxBytes: 1 << 20 })).existed, true);
    const r = await s.publish("acme", "m", "main", {
      title: "push",
      files: [{ path: "model.safetensors", content: { sha256: sha } }],
    });
    assert.equal(r.commit.files[0].container?.sha256, up.container!.sha256);
  });
});

Deno.test("repo store: deleting a branch lets collection remove what only it reached", async () => {
  await withStore(async (s) => {
    await put(s, "model.safetensors", SHARD(0), "main");
    const v2 = await put(s, "model.safetensors", SHARD(1), "v2");
    const blobs = async () => (await Array.fromAsync(s.objects.list("blobs/"))).length;
    assert.equal(await blobs(), 2);
    await s.deleteBranch("acme", "m", "v2");
    await assert.rejects(s.reader.resolve("acme", "m", v2.commit.id), kind("revision_not_found"));
    assert.equal(await blobs(), 1);
    await s.deleteBranch("acme", "m", "main");
    await assert.rejects(s.reader.resolve("acme", "m", "main"), kind("model_not_found"));
    assert.equal(await blobs(), 0);
    assert.deepEqual(await s.reader.list(), []);
    assert.deepEqual(await s.gc(), {
      commits: 0,
      blobs: 0,
      bytes: 0,
      uploads: 0,
      removed: [],
      young: 0,
    });
  });
});

Deno.test("repo store: a second store on the same folder is refused; scratch is emptied at open", async () => {
  await withTempDir(async (dir) => {
    const s = await openRepoStore({ store: dir, packInline: true });
    await Deno.writeTextFile(`${dir}/.tmp/leftover`, "x");
    await assert.rejects(openRepoStore({ store: dir }), kind("store_locked"));
    await s.close();
    const again = await openRepoStore({ store: dir });
    assert.deepEqual([...Deno.readDirSync(`${dir}/.tmp`)], []);
    await again.close();
  });
});

Deno.test("repo store: a file where a folder is expected is a path_conflict, and changes nothing", async () => {
  await withStore(async (s, dir) => {
    await Deno.mkdir(`${dir}/repos`, { recursive: true });
    await Deno.writeTextFile(`${dir}/repos/t`, "in the way");
    await assert.rejects(s.reader.resolve("t", "x", "main"), kind("model_not_found"));
    const staged = await s.receive(streamOf(enc.encode("{}")), { maxBytes: 9 });
    await assert.rejects(
      s.publish("t", "x", "main", { title: "x", files: [{ path: "c.json", content: staged }] }),
      kind("path_conflict"),
    );
    assert.equal(await Deno.readTextFile(`${dir}/repos/t`), "in the way");
  });
});

Deno.test("repo store: a folder of the earlier layout is imported as commits", async () => {
  await withTempDir(async (dir) => {
    const first = await openRepoStore({ store: dir, packInline: true });
    const staged = await first.receive(streamOf(SHARD(0)), { maxBytes: 1 << 20 });
    await first.close();
    await Deno.mkdir(`${dir}/old/model/main`, { recursive: true });
    await Deno.rename(staged.scratchFile, `${dir}/old/model/main/model.tsr`);
    await Deno.writeTextFile(`${dir}/old/model/main/config.json`, "{}");
    const s = await openRepoStore({ store: dir, packInline: true });
    try {
      const rev = await s.reader.resolve("old", "model", "main");
      assert.deepEqual(rev.commit.files.map((f) => f.path), ["config.json", "model.safetensors"]);
      assert.equal(rev.commit.files[1].sha256, sha256Hex(SHARD(0)));
      assert.ok(!(await Deno.stat(`${dir}/old`).catch(() => null)), "the old folder is gone");
    } finally {
      await s.close();
    }
  });
});
