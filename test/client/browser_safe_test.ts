/**
 * The client is browser-safe: every module reachable from `src/client/mod.ts` is free of `Deno.*`
 * and `node:` imports, and the only Deno-only client module is `deno_native.ts`.
 * @module
 */
import assert from "node:assert/strict";
import { browserPureReport } from "../helpers/browser_pure.ts";

const ENTRY = new URL("../../src/client/mod.ts", import.meta.url);

Deno.test("client: no Deno.* and no node: module is reachable from src/client/mod.ts", async () => {
  const { seen, problems } = await browserPureReport([ENTRY], ["zod", "zstddec"]);
  assert.deepEqual(problems, []);
  const clientFiles = [...Deno.readDirSync(new URL("../../src/client/", import.meta.url))]
    .map((e) => e.name).filter((n) => n.endsWith(".ts"));
  for (const name of clientFiles) {
    if (name === "deno_native.ts") continue;
    assert.ok(
      seen.has(new URL(`../../src/client/${name}`, import.meta.url).href),
      `src/client/${name} is not reachable from mod.ts, so it is not checked`,
    );
  }
  assert.ok(seen.size > 10);
});
