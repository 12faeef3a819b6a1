import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { digestFromHex, digestOf, wantedDigest } from "../../src/http/digest.ts";

Deno.test("digest fields: RFC 9530 byte sequences of SHA-256 and SHA-512", () => {
  const bytes = new TextEncoder().encode("hello");
  const hex = createHash("sha256").update(bytes).digest("hex");
  const b64 = createHash("sha256").update(bytes).digest("base64");
  assert.equal(digestFromHex(hex), `sha-256=:${b64}:`);
  assert.equal(digestOf("sha-256", [bytes.subarray(0, 2), bytes.subarray(2)]), `sha-256=:${b64}:`);
  const b512 = createHash("sha512").update(bytes).digest("base64");
  assert.equal(digestOf("sha-512", [bytes]), `sha-512=:${b512}:`);
});

Deno.test("Want-*-Digest: the best supported algorithm with a non-zero weight", () => {
  assert.equal(wantedDigest(null), null);
  assert.equal(wantedDigest("sha-256=1"), "sha-256");
  assert.equal(wantedDigest("sha-512=3, sha-256=10"), "sha-256");
  assert.equal(wantedDigest("sha-512=10, sha-256=1"), "sha-512");
  assert.equal(wantedDigest("sha-256=0"), null);
  assert.equal(wantedDigest("md5=10, unixsum=3"), null);
  assert.equal(wantedDigest("sha-256"), "sha-256");
});
