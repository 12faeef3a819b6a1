/**
 * The client is browser-safe: every module reachable from `src/client/mod.ts` is free of `Deno.*`
 * and `node:` imports, and the only Deno-only client module is `deno_native.ts`.
 * @module
 */
import assert from "node:assert/strict";

const ENTRY = new URL("../../src/client/mod.ts", import.meta.url);
const BROWSER_PACKAGES = new Set(["zod", "zstddec"]);

/** Module specifiers imported or re-exported by `source`, other than type-only imports. */
function importsOf(source: string): string[] {
  const out: string[] = [];
  source = source.replace(/(?:^|\n)\s*(?:import|export)\s+type\b[^;]*;/g, "");
  const re =
    /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of source.matchAll(re)) out.push(m[1] ?? m[2]);
  return out;
}

/** Source with comments removed, so that doc examples do not count. */
function code(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

Deno.test("client: no Deno.* and no node: module is reachable from src/client/mod.ts", async () => {
  const seen = new Set<string>();
  const todo = [ENTRY.href];
  while (todo.length > 0) {
    const href = todo.pop()!;
    if (seen.has(href)) continue;
    seen.add(href);
    const source = await Deno.readTextFile(new URL(href));
    const path = new URL(href).pathname;
    assert.doesNotMatch(code(source), /\bDeno\./, `${path} uses Deno.*`);
    for (const spec of importsOf(source)) {
      assert.ok(!spec.startsWith("node:"), `${path} imports ${spec}`);
      if (spec.startsWith(".")) todo.push(new URL(spec, href).href);
      else assert.ok(BROWSER_PACKAGES.has(spec), `${path} imports package ${spec}`);
    }
  }
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
