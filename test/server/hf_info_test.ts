import assert from "node:assert/strict";
import { pathsInfo, treeEntries } from "../../src/server/hf_info.ts";
import { type Commit, encodeCommit, type TreeFile } from "../../src/store/commit.ts";

const file = (path: string, size = 10, lfs = false): TreeFile => ({
  path,
  size,
  sha256: "a".repeat(64),
  gitOid: "b".repeat(40),
  lfs,
});

function commit(files: TreeFile[]): Commit {
  const fields = {
    parent: null,
    date: "2026-01-01T00:00:00.000Z",
    title: "t",
    message: "",
    author: "x",
    files: [...files].sort((a, b) => (a.path < b.path ? -1 : 1)),
  };
  return { id: encodeCommit(fields).id, ...fields };
}

Deno.test("hf tree: folders before their files, direct children or everything, real sizes", () => {
  const c = commit([
    file("config.json"),
    file("model-00001-of-00002.safetensors", 5000, true),
    file("text_encoder/config.json"),
    file("text_encoder/model.safetensors", 7000, true),
    file("a/b/c.txt"),
  ]);
  const top = treeEntries(c, "", false, false)!;
  assert.deepEqual(top.map((e) => [e.type, e.path]), [
    ["directory", "a"],
    ["file", "config.json"],
    ["file", "model-00001-of-00002.safetensors"],
    ["directory", "text_encoder"],
  ]);
  const shard = top.find((e) => e.path.endsWith(".safetensors"))!;
  assert.equal(shard.size, 5000);
  assert.equal(shard.lfs!.size, 5000);
  assert.ok(shard.lfs!.pointerSize > 100 && shard.lfs!.pointerSize < 200);
  const all = treeEntries(c, "", true, true)!;
  assert.deepEqual(all.filter((e) => e.type === "directory").map((e) => e.path), [
    "a",
    "a/b",
    "text_encoder",
  ]);
  assert.ok(all.every((e) => e.lastCommit?.id === c.id));
  assert.deepEqual(treeEntries(c, "text_encoder", false, false)!.map((e) => e.path), [
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
  ]);
  assert.equal(treeEntries(c, "nope", false, false), null);
  assert.deepEqual(
    pathsInfo(c, ["a", "config.json", "missing", "/a/b/"], false).map((e) => e.path),
    [
      "a",
      "config.json",
      "a/b",
    ],
  );
});
