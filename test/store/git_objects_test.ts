import assert from "node:assert/strict";
import { gitBlobOid, isLfs, lfsPointer, lfsPointerOid } from "../../src/store/git_objects.ts";

Deno.test("git objects: blob ids as `git hash-object` gives them; LFS pointers and rules", () => {
  // `printf 'hello\n' | git hash-object --stdin` and the empty blob.
  assert.equal(
    gitBlobOid(new TextEncoder().encode("hello\n")),
    "ce013625030ba8dba906f756967f9e9ca394464a",
  );
  assert.equal(gitBlobOid(new Uint8Array(0)), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  const sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  assert.equal(
    lfsPointer(sha, 0),
    `version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\nsize 0\n`,
  );
  assert.equal(lfsPointerOid(sha, 0), gitBlobOid(new TextEncoder().encode(lfsPointer(sha, 0))));
  assert.equal(isLfs("model-00001-of-00002.safetensors", 10), true);
  assert.equal(isLfs("tokenizer.model", 10), true);
  assert.equal(isLfs("runs/events.out.tfevents.1", 10), true);
  assert.equal(isLfs("config.json", 500), false);
  assert.equal(isLfs("tokenizer.json", 11 << 20), true, "over 10 MiB");
});
