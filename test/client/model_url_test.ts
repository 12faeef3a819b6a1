import assert from "node:assert/strict";
import { ClientError } from "../../src/client/errors.ts";
import {
  apiUrl,
  parseModelUrl,
  resolveUrl,
  revisionVariant,
  tensorUrl,
  withVariant,
} from "../../src/client/model_url.ts";

Deno.test("parseModelUrl: API, hub and tree forms, with revisions and prefixes", () => {
  const cases: [string, string, string, string][] = [
    ["http://h:1/v1/models/org/name", "http://h:1", "org/name", "main"],
    ["http://h:1/v1/models/org/name/", "http://h:1", "org/name", "main"],
    ["http://h:1/v1/models/org/name?revision=v2", "http://h:1", "org/name", "v2"],
    ["http://h:1/v1/models/org/name/manifest?revision=v2", "http://h:1", "org/name", "v2"],
    ["https://h/hub/v1/models/o/n", "https://h/hub", "o/n", "main"],
    ["http://h/org/name", "http://h", "org/name", "main"],
    ["http://h/org/name?revision=r1", "http://h", "org/name", "r1"],
    ["http://h/org/name/tree/dev", "http://h", "org/name", "dev"],
    ["http://h/o%20x/n.bf16", "http://h", "o x/n.bf16", "main"],
  ];
  for (const [url, base, id, revision] of cases) {
    const ref = parseModelUrl(url);
    assert.deepEqual([ref.base, ref.id, ref.revision], [base, id, revision], url);
  }
});

Deno.test("parseModelUrl: rejects what names no model", () => {
  for (
    const url of [
      "not a url",
      "ftp://h/org/name",
      "http://h/org",
      "http://h/a/b/c",
      "http://h/v1/models/org",
      "http://h/v1/models/org/name/tensors/x",
      "http://h//name",
      "http://h/org/%E0%A4%A",
    ]
  ) {
    assert.throws(
      () => parseModelUrl(url),
      (e) => e instanceof ClientError && e.kind === "bad_url",
    );
  }
});

Deno.test("model URLs encode every path segment", () => {
  const ref = parseModelUrl("http://h/v1/models/org/name?revision=a/b");
  assert.equal(apiUrl(ref, "/manifest"), "http://h/v1/models/org/name/manifest?revision=a%2Fb");
  assert.equal(
    tensorUrl(ref, "det/conv:0 é"),
    "http://h/v1/models/org/name/tensors/det%2Fconv%3A0%20%C3%A9?revision=a%2Fb",
  );
  assert.equal(resolveUrl(ref), "http://h/org/name/resolve/a%2Fb/model.safetensors");
});

Deno.test("model URLs: a variant names its revision, and a URL's variant revision is kept", () => {
  const ref = parseModelUrl("http://h:1/v1/models/demo/m?revision=v2");
  assert.equal(withVariant(ref, "int8").revision, "v2@int8");
  assert.equal(withVariant(ref, undefined), ref);
  const named = parseModelUrl("http://h:1/v1/models/demo/m?revision=main@ternary:3");
  assert.deepEqual(revisionVariant(named.revision), { stored: "main", variant: "ternary:3" });
  assert.equal(withVariant(named, "ternary:3"), named);
  assert.throws(() => withVariant(named, "int8"), (e) => e instanceof ClientError);
  assert.equal(revisionVariant("main"), null);
});
