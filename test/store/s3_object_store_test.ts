/**
 * The S3 object store against a real S3-protocol server on loopback (s3rver, started by the test):
 * the probe, create-if-absent objects (single PUT and verified multipart), ranged reads that
 * refuse a replaced object, listing, and compare-and-swap refs with exactly one winner of a race,
 * in both ref modes (lease on plain s3rver, conditional with preconditions evaluated).
 */
import assert from "node:assert/strict";
import { StoreError } from "../../src/store/errors.ts";
import { openS3ObjectStore, type S3ObjectStore } from "../../src/store/s3_object_store.ts";
import { createS3Client } from "../../src/store/s3_client.ts";
import { s3ConfigFromEnv } from "../../src/store/s3_config.ts";
import { startS3Server } from "../helpers/s3_server.ts";

const enc = new TextEncoder();
const FAST = { deltaMs: 500, settleMs: 300, ttlMs: 10_000, marginMs: 2_000, giveUpMs: 30_000 };

for (const conditional of [false, true]) {
  const mode = conditional ? "conditional" : "lease";
  Deno.test(`s3 store (${mode}): objects, ranged reads, listing, refs`, async () => {
    const s3 = await startS3Server({ conditional });
    let store: S3ObjectStore | null = null;
    try {
      const url = s3.freshStore();
      store = await openS3ObjectStore(url, {
        env: s3.env,
        leaseTiming: FAST,
        multipartFrom: 5 << 20,
      });
      assert.equal(store.refMode, mode, "the probe finds what the server does");

      // Create-if-absent, small.
      assert.equal(await store.putObject("blobs/a", { bytes: enc.encode("hello") }), true);
      assert.equal(await store.putObject("blobs/a", { bytes: enc.encode("other") }), false);
      assert.deepEqual(await store.getObject("blobs/a", 100), enc.encode("hello"));
      assert.equal(await store.getObject("blobs/none", 100), null);
      await assert.rejects(() => store!.getObject("blobs/a", 2), /more than/);

      // A multipart upload from a scratch file, verified, and read back by ranges.
      const big = new Uint8Array(12 << 20);
      for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 255;
      const file = `${store.scratchDir}/big`;
      await Deno.writeFile(file, big);
      assert.equal(await store.putObject("blobs/big", { file }), true);
      await assert.rejects(() => Deno.stat(file), Deno.errors.NotFound, "the file is consumed");
      const o = (await store.openObject("blobs/big"))!;
      assert.equal(o.size, big.length);
      assert.ok(o.hints && o.hints.spanBytes >= 1 << 20, "spans are merged for S3");
      assert.deepEqual(await o.readAt(0, 10), big.subarray(0, 10));
      assert.deepEqual(await o.readAt(9 << 20, 5000), big.subarray(9 << 20, (9 << 20) + 5000));
      assert.equal((await store.statObject("blobs/big"))?.size, big.length);

      // The object replaced behind the reader's back: never mixed with the old one.
      const client = createS3Client(s3ConfigFromEnv(url, s3.env));
      const replaced = new Uint8Array(big.length).fill(7);
      const put = await client.request(`${store.config.prefix}/blobs/big`, {
        method: "PUT",
        body: replaced,
      });
      await put.body?.cancel();
      assert.ok(put.ok);
      await assert.rejects(() => o.readAt(8 << 20, 100), /changed in the object store/);
      o.close();

      const keys = [];
      for await (const info of store.list("blobs/")) keys.push(info.key);
      assert.deepEqual(keys.sort(), ["blobs/a", "blobs/big"]);

      // Refs: create, replace by tag, conflicts, delete, create again.
      const key = "repos/o/n/refs.json";
      assert.equal(await store.getRef(key), null);
      const t1 = await store.putRef(key, enc.encode("v1"), { ifNoneMatch: "*" });
      await assert.rejects(
        () => store!.putRef(key, enc.encode("v1b"), { ifNoneMatch: "*" }),
        (e: unknown) => e instanceof StoreError && e.kind === "ref_conflict",
      );
      const t2 = await store.putRef(key, enc.encode("v2"), { ifMatch: t1 });
      await assert.rejects(
        () => store!.putRef(key, enc.encode("v3"), { ifMatch: t1 }),
        (e: unknown) => e instanceof StoreError && e.kind === "ref_conflict",
      );
      assert.deepEqual((await store.getRef(key))?.bytes, enc.encode("v2"));
      await assert.rejects(
        () => store!.deleteRef(key, t1),
        (e: unknown) => e instanceof StoreError && e.kind === "ref_conflict",
      );
      await store.deleteRef(key, t2);
      assert.equal(await store.getRef(key), null);
      await store.putRef(key, enc.encode("v4"), { ifNoneMatch: "*" });
      assert.deepEqual((await store.getRef(key))?.bytes, enc.encode("v4"));

      // A race: every writer names the same version; exactly one wins.
      const base = (await store.getRef(key))!;
      const results = await Promise.allSettled(
        [0, 1, 2, 3].map((i) => store!.putRef(key, enc.encode(`w${i}`), { ifMatch: base.etag })),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      assert.equal(won.length, 1, `one winner: ${results.map((r) => r.status)}`);
      for (const r of results) {
        if (r.status === "rejected") {
          assert.ok(r.reason instanceof StoreError && r.reason.kind === "ref_conflict");
        }
      }
      const after = (await store.getRef(key))!;
      assert.match(new TextDecoder().decode(after.bytes), /^w[0-3]$/);
    } finally {
      await store?.close();
      await s3.stop();
    }
  });
}

Deno.test("s3 store: a bad bucket or missing credentials are one clear error", async () => {
  const s3 = await startS3Server();
  try {
    await assert.rejects(
      () => openS3ObjectStore("s3://no-such-bucket/x", { env: s3.env }),
      (e: unknown) => e instanceof StoreError && /NoSuchBucket/.test(e.message),
    );
    await assert.rejects(
      () => openS3ObjectStore(s3.freshStore(), { env: { AWS_ENDPOINT_URL: s3.endpoint } }),
      /AWS_ACCESS_KEY_ID/,
    );
  } finally {
    await s3.stop();
  }
});
