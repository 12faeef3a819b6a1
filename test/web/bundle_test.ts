/**
 * The committed page bundles are what `deno task web:build` makes from `src/web/client/` today.
 * @module
 */
import assert from "node:assert/strict";
import { staleBundles } from "../../src/web/build.ts";

Deno.test("web: the committed bundles match a fresh deno bundle of their sources", async () => {
  assert.deepEqual(await staleBundles(), [], "run deno task web:build and commit the result");
});
