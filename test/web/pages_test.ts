/**
 * The pages as HTML, without a browser (`app.request`): what works without JavaScript, error
 * pages, asset caching, and the figures behind the model page.
 * @module
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/server/app.ts";
import { defaultConfig } from "../../src/server/config.ts";
import { closeContext, createServerContext } from "../../src/server/server.ts";
import type { ServerContext } from "../../src/server/context.ts";
import { createFiguresCache } from "../../src/web/model_figures.ts";
import { unpackRows } from "../../src/web/shared/tensor_table.ts";
import { writeFixtureModels } from "./fixture_store.ts";

async function withApp(
  fn: (app: ReturnType<typeof createApp>, ctx: ServerContext) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tessera_pages_" });
  try {
    await writeFixtureModels(dir);
    const ctx = await createServerContext(
      defaultConfig({ modelsDir: dir, workers: 0, quiet: true }),
      () => {},
    );
    try {
      await fn(createApp(ctx), ctx);
    } finally {
      await closeContext(ctx);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const html = { headers: { Accept: "text/html" } };

Deno.test("pages: HTML that works without JavaScript; errors as pages for browsers only", async () => {
  await withApp(async (app, ctx) => {
    const home = await app.request("/?q=ppocr");
    assert.equal(home.status, 200);
    assert.match(home.headers.get("Content-Type")!, /^text\/html/);
    const text = await home.text();
    assert.match(text, /1 of 2 models match “ppocr”/);
    assert.match(text, /<tr data-search="demo\/stories260k[^"]*" hidden="">/);

    const model = await (await app.request("/demo/stories260k?tq=q_proj&sort=raw&dir=desc")).text();
    assert.match(model, /5 of 47 tensors match/);
    assert.match(model, /aria-sort="descending"/);
    assert.match(model, /href="\?tq=q_proj&amp;sort=raw#tensors"/);
    assert.match(model, /<code>int8<\/code>/);
    assert.ok(!model.includes("</script><script>alert"), "embedded JSON cannot close its script");

    const dev = await (await app.request("/demo/stories260k?revision=dev")).text();
    assert.ok(!dev.includes('id="variants"'), "the dev branch has no variants");

    const tensor = await app.request(
      "/demo/stories260k/tensors/model.embed_tokens.weight?tile=99999",
    );
    assert.equal(tensor.status, 200);
    assert.match(await tensor.text(), /Tile <span id="tile-index">0<\/span>/);

    const missing = await app.request("/demo/nope", html);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /model_not_found/);
    const nowhere = await app.request("/a/b/c/d", html);
    assert.equal(nowhere.status, 404);
    assert.match(nowhere.headers.get("Content-Type")!, /^text\/html/);
    // API clients still get JSON.
    const api = await app.request("/a/b/c/d");
    assert.equal(api.status, 404);
    assert.equal((await api.json()).error, "not_found");
    const head = await app.request("/demo/stories260k", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    assert.ok(ctx.store.leases.open >= 1);
  });
});

Deno.test("pages: assets are versioned by content and revalidated by ETag", async () => {
  await withApp(async (app) => {
    const page = await (await app.request("/status")).text();
    // The stylesheet is in the page itself; the scripts are versioned files.
    const styles = /<style>(.*?)<\/style>/s.exec(page)?.[1] ?? "";
    assert.ok(styles.includes("prefers-color-scheme"), "the stylesheet is inline");
    assert.ok(!styles.includes("/*"), "without its comments");
    assert.ok(!page.includes('rel="stylesheet"'));
    const js = /src="(\/-\/assets\/status\.js\?v=([0-9a-f]{16}))"/.exec(page)!;
    const res = await app.request(js[1]);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("Cache-Control"), "public, max-age=31536000, immutable");
    assert.equal(res.headers.get("ETag"), `"${js[2]}"`);
    const again = await app.request("/-/assets/status.js", {
      headers: { "If-None-Match": `"${js[2]}"` },
    });
    assert.equal(again.status, 304);
    const wasm = await app.request("/-/assets/tsr_kernel.wasm");
    assert.equal(wasm.headers.get("Content-Type"), "application/wasm");
    assert.equal((await app.request("/-/assets/nope.js")).status, 404);
  });
});

Deno.test("pages: model figures add up, and plane tables account for every stored byte", async () => {
  await withApp(async (_app, ctx) => {
    for (const id of ["demo/stories260k", "shared/ppocrv4.bf16"]) {
      const [org, name] = id.split("/");
      const rev = await ctx.store.reader.resolve(org, name, "main").catch(() => null);
      if (!rev) continue;
      const f = await createFiguresCache(ctx).get(rev);
      const sum = (xs: { raw: number; stored: number }[]) =>
        xs.reduce((a, x) => [a[0] + x.raw, a[1] + x.stored], [0, 0]);
      assert.deepEqual(sum(f.layers), [f.tensorBytes.raw, f.tensorBytes.stored]);
      assert.deepEqual(sum(f.dtypes), [f.tensorBytes.raw, f.tensorBytes.stored]);
      const codecs = f.codecs.reduce((a, c) => [a[0] + c.raw, a[1] + c.stored], [0, 0]);
      assert.equal(codecs[0], f.tensorBytes.raw);
      assert.equal(codecs[1] + f.planeTableBytes, f.tensorBytes.stored);
      assert.equal(f.rows.length, f.tensorCount);
      assert.ok(f.rows.every((r) => r.codecs !== "-" || r.raw === 0), `${id}: codecs of every row`);
      if (id === "demo/stories260k") {
        assert.deepEqual(f.variants.map((v) => v.name), ["int8", "fp16"]);
        for (const v of f.variants) {
          assert.equal(v.changed + v.exact, f.tensorCount);
          assert.ok(v.maxRelRmse !== null && v.maxRelRmse > 0 && v.maxRelRmse < 0.1);
        }
      }
    }
  });
});

Deno.test("pages: a model page's script starts with its tensor rows, JSON immutable by commit", async () => {
  await withApp(async (app, ctx) => {
    const page = await (await app.request("/demo/stories260k?revision=dev")).text();
    // The head's inline module imports the rows as a JSON module and the page script beside it.
    const start =
      /<script type="module">import data from "([^"]+)" with \{ type: "json" \};import \{ start \} from "(\/-\/assets\/model\.js\?v=[0-9a-f]+)";start\(data\);<\/script>/
        .exec(page);
    assert.ok(start, "the page starts its script with its rows");
    assert.ok(page.indexOf(start[0]) < page.indexOf("</head>"), "in the head");
    const url = start[1];
    // Both are preloaded from the top of the head, before the stylesheet, so that the browser asks
    // for them as soon as it reads the head, not once the inline module is compiled.
    const preloads = `<link rel="modulepreload" href="${start[2]}">` +
      `<link rel="modulepreload" href="${url}" as="json">`;
    assert.ok(page.includes(preloads), "the script and the rows are preloaded");
    assert.ok(page.indexOf(preloads) < page.indexOf("<style>"), "before the stylesheet");
    const script = await app.request(start[2]);
    assert.equal(script.status, 200);
    await script.body?.cancel();
    const data = JSON.parse(
      /<script type="application\/json" id="page-data">(.*?)<\/script>/s
        .exec(page)![1],
    );
    assert.equal(data.rowsUrl, url);
    assert.ok(!page.includes('id="page-rows"'), "the rows are not in the HTML");

    const rev = await ctx.store.reader.resolve("demo", "stories260k", "dev");
    assert.ok(url.endsWith(`?revision=${rev.commit.id}`), url);
    const res = await app.request(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("Content-Type")!, /^application\/json/);
    assert.equal(res.headers.get("Cache-Control"), "public, max-age=31536000, immutable");
    const packed = unpackRows(await res.json());
    const fig = await createFiguresCache(ctx).get(rev);
    assert.deepEqual(
      packed.map((r) => [r.name, r.dtype, r.raw, r.stored, r.layer]),
      fig.rows.map((r) => [r.name, r.dtype, r.raw, r.stored, r.layer]),
    );
    const again = await app.request(url, {
      headers: { "If-None-Match": res.headers.get("ETag")! },
    });
    assert.equal(again.status, 304);
    // By branch the rows move with it, so they are revalidated.
    const byBranch = await app.request("/-/rows/demo/stories260k?revision=dev");
    assert.equal(byBranch.headers.get("Cache-Control"), "no-cache");
    await byBranch.body?.cancel();
    const missing = await app.request("/-/rows/demo/nope", html);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });
});
