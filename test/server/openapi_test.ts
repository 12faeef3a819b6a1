/**
 * The OpenAPI document: valid by a standard validator (the engine of swagger-cli), and describing
 * exactly the routes the server answers.
 * @module
 */
import assert from "node:assert/strict";
import SwaggerParser from "@apidevtools/swagger-parser";
import { webRoutes } from "../../routes/pages.tsx";
import { createApp } from "../../src/server/app.ts";
import { defaultConfig } from "../../src/server/config.ts";
import { closeContext, createServerContext } from "../../src/server/server.ts";
import { withTempDir } from "../helpers/container.ts";

async function documentAndRoutes() {
  return await withTempDir(async (dir) => {
    const ctx = await createServerContext(
      defaultConfig({ modelsDir: dir, workers: 0, quiet: true }),
      () => {},
    );
    try {
      const app = createApp(ctx);
      const res = await app.request("/openapi.json");
      assert.equal(res.status, 200);
      const doc = await res.json();
      // What the router answers: every registered handler that is not middleware or a 405.
      const answered = new Set(
        app.routes.filter((r) => r.method !== "ALL").map((r) =>
          `${r.method} ${r.path.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}")}`
        ),
      );
      // The web pages and their assets are not API operations: they come from their own list.
      const pages = new Set(webRoutes(ctx).pages.map((p) => `GET ${p.path}`));
      return { doc, answered, pages };
    } finally {
      await closeContext(ctx);
    }
  });
}

Deno.test("openapi: /openapi.json passes a standard OpenAPI 3.1 validator", async () => {
  const { doc } = await documentAndRoutes();
  assert.equal(doc.openapi, "3.1.0");
  await SwaggerParser.validate(structuredClone(doc));
});

Deno.test("openapi: every route the server answers is in the document or a page, and nothing else", async () => {
  const { doc, answered, pages } = await documentAndRoutes();
  const documented = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths as Record<string, object>)) {
    for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);
  }
  assert.deepEqual([...answered].filter((r) => !pages.has(r)).sort(), [...documented].sort());
  for (const p of pages) {
    assert.ok(answered.has(p), `page ${p} is answered`);
    assert.ok(!documented.has(p), `page ${p} is not an API operation`);
  }
  assert.ok(answered.size >= 20, `${answered.size} routes`);
});
