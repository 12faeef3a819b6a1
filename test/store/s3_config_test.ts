/** S3 store URLs and the AWS environment. */
import assert from "node:assert/strict";
import { parseS3Url, s3ConfigFromEnv } from "../../src/store/s3_config.ts";
import { withLease } from "../../src/store/s3_ref_lease.ts";

const creds = { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" };

Deno.test("s3 config: URL, endpoint, addressing style, region, session token", () => {
  assert.deepEqual(parseS3Url("s3://models/hub/v1/"), { bucket: "models", prefix: "hub/v1" });
  assert.deepEqual(parseS3Url("s3://models"), { bucket: "models", prefix: "" });
  assert.equal(parseS3Url("file:/x"), null);
  assert.throws(() => parseS3Url("s3://Bad_Bucket/x"), /bucket name/);
  assert.throws(() => parseS3Url("s3://models/../x"), /prefix/);
  const minio = s3ConfigFromEnv("s3://models/hub", {
    ...creds,
    AWS_ENDPOINT_URL: "http://127.0.0.1:9000/",
    AWS_SESSION_TOKEN: "t",
  });
  assert.equal(minio.endpoint, "http://127.0.0.1:9000");
  assert.equal(minio.pathStyle, true);
  assert.equal(minio.sessionToken, "t");
  assert.equal(minio.region, "us-east-1");
  const aws = s3ConfigFromEnv("s3://models/hub", { ...creds, AWS_REGION: "eu-west-1" });
  assert.equal(aws.endpoint, "https://models.s3.eu-west-1.amazonaws.com");
  assert.equal(aws.pathStyle, false);
  const dotted = s3ConfigFromEnv("s3://my.models", { ...creds, AWS_DEFAULT_REGION: "us-west-2" });
  assert.equal(dotted.endpoint, "https://s3.us-west-2.amazonaws.com");
  assert.equal(dotted.pathStyle, true);
  const s3only = s3ConfigFromEnv("s3://mmm", {
    ...creds,
    AWS_ENDPOINT_URL: "http://a:1",
    AWS_ENDPOINT_URL_S3: "http://b:2",
  });
  assert.equal(s3only.endpoint, "http://b:2");
  assert.throws(() => s3ConfigFromEnv("s3://mmm", {}), /AWS_ACCESS_KEY_ID/);
});

Deno.test("s3 lease: among writers that saw it free at once, exactly one holds it", async () => {
  // One shared register with reads and writes of a few ms, as against a store.
  let state: { owner: string; expiresMs: number } | null = null;
  const io = {
    read: async () => (await new Promise((r) => setTimeout(r, 2)), state),
    write: async (s: { owner: string; expiresMs: number }) => {
      await new Promise((r) => setTimeout(r, 1 + Math.random() * 5));
      state = s;
    },
    remove: () => {
      state = null;
      return Promise.resolve();
    },
  };
  const timing = { deltaMs: 200, settleMs: 250, ttlMs: 5000, marginMs: 1000, giveUpMs: 20_000 };
  let inside = 0, most = 0;
  await Promise.all(Array.from({ length: 5 }, () =>
    withLease(io, async () => {
      inside++;
      most = Math.max(most, inside);
      await new Promise((r) => setTimeout(r, 20));
      inside--;
    }, timing)));
  assert.equal(most, 1, "never two holders at once");
});
