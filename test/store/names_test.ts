import assert from "node:assert/strict";
import { StoreError } from "../../src/store/errors.ts";
import { checkBranch, checkIdPart, checkRepoPath, checkRevision } from "../../src/store/names.ts";

const bad = (fn: () => unknown) =>
  assert.throws(fn, (e) => e instanceof StoreError && e.kind === "bad_name");

Deno.test("names: ids, branches, revisions and repo paths accept HF-style names", () => {
  assert.equal(checkIdPart("meta-llama", "org"), "meta-llama");
  assert.equal(checkIdPart("Llama-3.1_8B", "name"), "Llama-3.1_8B");
  assert.equal(checkBranch(null), "main");
  assert.equal(checkBranch(""), "main");
  assert.equal(checkBranch("v1.0-rc_2"), "v1.0-rc_2");
  assert.equal(checkRevision("refs/heads/v2"), "v2");
  assert.equal(checkRevision("a".repeat(40).replace(/a/g, "b")), "b".repeat(40));
  for (
    const p of [
      "config.json",
      "text_encoder/model.safetensors",
      "model-00001-of-00003.safetensors",
      "a b/ü ✓.txt",
      ".gitattributes",
    ]
  ) assert.equal(checkRepoPath(p), p);
});

Deno.test("names: traversal, separators, NUL, reserved orgs and odd paths are refused", () => {
  for (
    const v of ["", ".", "..", ".hidden", "a/b", "a\\b", "a\0b", "/abs", "x".repeat(97), "ends."]
  ) {
    bad(() => checkIdPart(v, "name"));
  }
  for (const v of ["api", "v1", "API"]) bad(() => checkIdPart(v, "org"));
  for (const v of [".", "..", "a/b", "../x", "a\0", "a b", "x".repeat(65), "refs/pr/1"]) {
    bad(() => checkBranch(v));
  }
  bad(() => checkBranch("c".repeat(40)));
  for (
    const v of [
      "",
      "/abs",
      "a//b",
      "../config.json",
      "a/../b",
      "./a",
      ".git/config",
      "a/",
      "c.json\0",
      "a\\b",
      "x".repeat(1025),
    ]
  ) bad(() => checkRepoPath(v));
});
