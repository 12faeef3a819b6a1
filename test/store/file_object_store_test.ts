import assert from "node:assert/strict";
import { StoreError } from "../../src/store/errors.ts";
import { openFileObjectStore } from "../../src/store/file_object_store.ts";
import { withTempDir } from "../helpers/container.ts";

const enc = new TextEncoder();
const kind = (k: string) => (e: unknown) => e instanceof StoreError && e.kind === k;
const sha = "ab".repeat(32);

Deno.test("file object store: objects are create-if-absent, read by ranges, listed by prefix", async () => {
  await withTempDir(async (dir) => {
    const s = await openFileObjectStore(dir);
    try {
      assert.equal(await s.putObject(`blobs/${sha}`, { bytes: enc.encode("first") }), true);
      assert.equal(await s.putObject(`blobs/${sha}`, { bytes: enc.encode("other") }), false);
      const o = (await s.openObject(`blobs/${sha}`))!;
      assert.equal(new TextDecoder().decode(await o.readAt(1, 3)), "irs");
      o.close();
      // A file source is moved in, and consumed either way.
      await Deno.writeTextFile(`${s.scratchDir}/x`, "from a file");
      assert.equal(
        await s.putObject("repos/a/b/commits/c.json", { file: `${s.scratchDir}/x` }),
        true,
      );
      assert.deepEqual([...Deno.readDirSync(s.scratchDir)], []);
      assert.deepEqual(
        (await Array.fromAsync(s.list(""))).map((o) => o.key).sort(),
        [`blobs/${sha}`, "repos/a/b/commits/c.json"],
      );
      assert.deepEqual((await Array.fromAsync(s.list("blobs/"))).map((o) => o.key), [
        `blobs/${sha}`,
      ]);
      assert.equal(await s.getObject("missing/key", 10), null);
      await assert.rejects(s.getObject(`blobs/${sha}`, 2), /more than/);
      await s.deleteObject(`blobs/${sha}`);
      assert.equal(await s.statObject(`blobs/${sha}`), null);
      await assert.rejects(s.openObject("../escape"), kind("bad_name"));
    } finally {
      await s.close();
    }
  });
});

Deno.test("file object store: refs change only by compare-and-swap", async () => {
  await withTempDir(async (dir) => {
    const s = await openFileObjectStore(dir);
    try {
      const a = await s.putRef("repos/o/n/refs.json", enc.encode("a"), { ifNoneMatch: "*" });
      await assert.rejects(
        s.putRef("repos/o/n/refs.json", enc.encode("b"), { ifNoneMatch: "*" }),
        kind("ref_conflict"),
      );
      const b = await s.putRef("repos/o/n/refs.json", enc.encode("b"), { ifMatch: a });
      await assert.rejects(
        s.putRef("repos/o/n/refs.json", enc.encode("c"), { ifMatch: a }),
        kind("ref_conflict"),
      );
      // Of two writers racing from the same version, exactly one wins.
      const results = await Promise.allSettled([
        s.putRef("repos/o/n/refs.json", enc.encode("x"), { ifMatch: b }),
        s.putRef("repos/o/n/refs.json", enc.encode("y"), { ifMatch: b }),
      ]);
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      const now = (await s.getRef("repos/o/n/refs.json"))!;
      await assert.rejects(s.deleteRef("repos/o/n/refs.json", b), kind("ref_conflict"));
      await s.deleteRef("repos/o/n/refs.json", now.etag);
      assert.equal(await s.getRef("repos/o/n/refs.json"), null);
    } finally {
      await s.close();
    }
  });
});

Deno.test("file object store: refs are read once, and a read racing a write never keeps the old value", async () => {
  await withTempDir(async (dir) => {
    const s = await openFileObjectStore(dir);
    const key = "repos/o/n/refs.json";
    try {
      const a = await s.putRef(key, enc.encode("a"), { ifNoneMatch: "*" });
      // Cached: the same bytes again, without reading the file (an edit behind the store's back,
      // which the folder lock rules out, is not seen).
      const first = (await s.getRef(key))!;
      await Deno.writeTextFile(`${dir}/${key}`, "edited");
      assert.equal((await s.getRef(key))!.bytes, first.bytes);
      await Deno.writeTextFile(`${dir}/${key}`, "a");
      // Reads started during a write see the old or the new value, and the cache ends at the new.
      const reads = Array.from({ length: 20 }, () => s.getRef(key));
      const write = s.putRef(key, enc.encode("b"), { ifMatch: a });
      reads.push(...Array.from({ length: 20 }, () => s.getRef(key)));
      const etag = await write;
      for (const r of await Promise.all(reads)) {
        assert.ok(["a", "b"].includes(new TextDecoder().decode(r!.bytes)));
      }
      const now = (await s.getRef(key))!;
      assert.equal(new TextDecoder().decode(now.bytes), "b");
      assert.equal(now.etag, etag);
      await s.deleteRef(key, etag);
      assert.equal(await s.getRef(key), null);
    } finally {
      await s.close();
    }
  });
});
