import assert from "node:assert/strict";
import { StoreError } from "../../src/store/errors.ts";
import { revisionRef } from "../../src/store/layout.ts";
import { checkIdPart, checkRevision, checkSidecar } from "../../src/store/names.ts";

const bad = (fn: () => unknown) =>
  assert.throws(fn, (e) => e instanceof StoreError && e.kind === "bad_name");

Deno.test("names: ids, revisions and sidecars accept HF-style names", () => {
  assert.equal(checkIdPart("meta-llama", "org"), "meta-llama");
  assert.equal(checkIdPart("Llama-3.1_8B", "name"), "Llama-3.1_8B");
  assert.equal(checkRevision(null), "main");
  assert.equal(checkRevision(""), "main");
  assert.equal(checkRevision("v1.0-rc_2"), "v1.0-rc_2");
  assert.equal(checkSidecar("tokenizer_config.json"), "tokenizer_config.json");
  assert.equal(checkSidecar("README.md"), "README.md");
});

Deno.test("names: traversal, separators, NUL, reserved orgs and odd files are refused", () => {
  for (
    const v of ["", ".", "..", ".hidden", "a/b", "a\\b", "a\0b", "/abs", "x".repeat(97), "ends."]
  ) {
    bad(() => checkIdPart(v, "name"));
  }
  for (const v of ["api", "v1", "API"]) bad(() => checkIdPart(v, "org"));
  for (const v of [".", "..", "a/b", "../x", "a\0", "a b", "x".repeat(65), "refs/pr/1"]) {
    bad(() => checkRevision(v));
  }
  for (
    const v of [
      "model.tsr",
      "../config.json",
      "a/config.json",
      ".model.tsr.sha256",
      "x.bin",
      "c.json\0",
      "config.json/",
    ]
  ) bad(() => checkSidecar(v));
  bad(() => revisionRef("/m", "a", "..", "main"));
  assert.equal(revisionRef("/m", "a", "b", null).containerPath, "/m/a/b/main/model.tsr");
});
