/// <reference lib="dom" />
/**
 * Every page in a real browser (Debian's Chromium, headless, through playwright-core) against a
 * real server: each renders with its expected text, every chart has drawn something, nothing
 * logs a console error or fails a request, the heatmap's values are the tile API's bytes, the
 * in-browser download ends with the original file's SHA-256 and a full progress bar, and the
 * model page of a 3,041-tensor model loads with its table usable (the time, from navigation start
 * to the table wired to every row and painted, is printed, never asserted). Pages are also checked at phone width and in dark mode.
 * @module
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { defaultConfig } from "../../src/server/config.ts";
import { type RunningServer, startServer } from "../../src/server/server.ts";
import { skipIf } from "../helpers/skip.ts";
import {
  browserMissing,
  drawnPixels,
  launchBrowser,
  type WatchedPage,
  watchedPage,
} from "./browser.ts";
import { type FixtureModels, writeFixtureModels } from "./fixture_store.ts";
import { medianTiming, modelPageTiming, openSettled, type PageTiming } from "./page_timing.ts";
import { SHARED_DATA } from "../helpers/repos.ts";

const NAME = "web pages in Chromium";
const sharedData = (() => {
  try {
    return [...Deno.readDirSync(SHARED_DATA)].some((e) => e.name.endsWith(".bf16.safetensors"));
  } catch {
    return false;
  }
})();

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Opens `url` (after letting the new context settle, with `settle`, as page timings do), runs
 * `check`, then asserts that nothing failed on the page.
 */
async function visit(
  browser: Browser,
  url: string,
  check: (w: WatchedPage) => Promise<void>,
  options: Parameters<typeof watchedPage>[1] & { settle?: boolean; cancelled?: RegExp } = {},
): Promise<void> {
  const w = await watchedPage(browser, options);
  try {
    const res = options.settle ? await openSettled(w.page, url) : await w.page.goto(url);
    assert.equal(res?.status(), 200, url);
    await check(w);
    assert.deepEqual(w.errors, [], `console errors on ${url}`);
    // A request the page cancels on purpose (`cancelled`) is not a failure.
    const failed = w.failed.filter((f) => !(options.cancelled?.test(f) ?? false));
    assert.deepEqual(failed, [], `failed requests on ${url}`);
  } finally {
    await w.page.context().close();
  }
}

async function charts(page: Page, selector: string, n: number) {
  await page.waitForFunction(
    ({ selector, n }) => document.querySelectorAll(selector).length >= n,
    { selector, n },
  );
  const drawn = await drawnPixels(page, selector);
  assert.ok(drawn.length >= n, `${selector}: ${drawn.length} charts, expected ${n}`);
  for (const [i, px] of drawn.entries()) assert.ok(px > 0, `${selector} #${i} drew nothing`);
}

Deno.test({
  name: NAME,
  ignore: skipIf(browserMissing(), NAME),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "tessera_web_" });
    let server: RunningServer | null = null;
    let browser: Browser | null = null;
    try {
      const models: FixtureModels = await writeFixtureModels(dir, { many: sharedData });
      server = await startServer(
        defaultConfig({
          modelsDir: dir,
          port: 0,
          host: "127.0.0.1",
          workers: 1,
          quiet: true,
          packInline: true,
        }),
        () => {},
      );
      const base = server.url;
      browser = await launchBrowser();
      const b = browser;

      await t.step("/ lists the models and filters them as one types", async () => {
        await visit(b, `${base}/`, async ({ page }) => {
          assert.match(await page.title(), /Models/);
          const rows = page.locator("#models tbody tr");
          assert.ok((await rows.count()) >= 2);
          assert.match(await page.locator("#models").innerText(), /demo\/stories260k/);
          assert.match(await page.locator("#models").innerText(), /BF16/);
          await page.fill("#model-search", "stories");
          await page.waitForFunction(() =>
            /match/.test(document.getElementById("model-count")!.textContent!)
          );
          const visible = await page.locator("#models tbody tr:visible").count();
          assert.ok(visible >= 1 && visible < (await rows.count()), `${visible} rows shown`);
        });
        // Without JavaScript the search is a GET form.
        const html = await (await fetch(`${base}/?q=stories`)).text();
        assert.match(html, /models match “stories”/);
      });

      await t.step("model page: figures, charts, histogram, variants, tensor table", async () => {
        await visit(b, `${base}/${models.llama}`, async ({ page }) => {
          const text = await page.locator("main").innerText();
          for (
            const want of [
              "demo/stories260k",
              "snapshot_download",
              "HF_ENDPOINT",
              "model.safetensors",
              "config.json",
              "Where the bytes go",
              "By dtype",
              "By plane codec",
              "Variants",
              "int8",
              "fp16",
              "model.embed_tokens.weight",
              "Branches",
              "dev",
            ]
          ) assert.ok(text.includes(want), `model page lacks ${want}`);
          await page.waitForFunction(() => document.documentElement.dataset.tableReady === "true");
          await charts(page, "#layer-chart canvas", 1);
          await page.waitForSelector("#hist-chart[data-tensor] canvas");
          await charts(page, "#hist-chart canvas", 1);
          assert.match(await page.locator("#hist-note").innerText(), /exponents/);
          // The table: filter, sort by stored bytes descending, page through.
          await page.fill("#tensor-q", "q_proj");
          await page.waitForFunction(() =>
            /5 of 47 tensors match/.test(document.getElementById("tensor-count")!.textContent!)
          );
          assert.equal(await page.locator("#tensor-table tbody tr").count(), 5);
          await page.fill("#tensor-q", "");
          const stored = page.locator("#tensor-table thead button", { hasText: "Stored" });
          await stored.click();
          await stored.click();
          assert.equal(
            await page.locator("#tensor-table thead th[aria-sort]").getAttribute("aria-sort"),
            "descending",
          );
          const first = await page.locator("#tensor-table tbody tr").first().innerText();
          assert.match(first, /model\.embed_tokens\.weight/);
          assert.match(page.url(), /sort=stored&dir=desc/);
        });
        // Without JavaScript: the same table through links.
        const html = await (await fetch(`${base}/${models.llama}?sort=stored&dir=desc&page=1`))
          .text();
        assert.match(html, /aria-sort="descending"/);
        assert.match(html, /Page 1 of 1|Page 1 of 2/);
      });

      await t.step(
        "tensor view: heatmap values are the tile API's bytes, badge verified",
        async () => {
          const manifest = await (await fetch(`${base}/v1/models/${models.download.id}/manifest`))
            .json();
          const t0 = manifest.tensors.reduce((a: { chunks: number }, x: { chunks: number }) =>
            x.chunks > a.chunks ? x : a
          );
          assert.ok(t0.chunks >= 2, `${t0.name} has ${t0.chunks} tiles`);
          const url = `${base}/${models.download.id}/tensors/${encodeURIComponent(t0.name)}`;
          await visit(b, url, async ({ page }) => {
            assert.match(
              await page.locator("h1").innerText(),
              new RegExp(t0.name.replace(/[.]/g, "\\.")),
            );
            await charts(page, "#tilemap", 1);
            // Another tile, chosen on the map.
            await page.locator('#tilemap a[data-tile="1"]').click();
            await page.waitForFunction(() =>
              (globalThis as unknown as { tessera: { heatmap: { tile: number } | null } }).tessera
                .heatmap?.tile === 1
            );
            await page.waitForSelector("#tile-badge.ok");
            assert.match(await page.locator("#tile-badge").innerText(), /Verified/);
            await charts(page, "#heatmap", 1);
            await charts(page, "#value-hist canvas", 1);
            const s = await page.evaluate(() => {
              const h = (globalThis as unknown as {
                tessera: { heatmap: { rect: number[]; values: Float64Array; cols: number } };
              }).tessera.heatmap;
              return { rect: h.rect, values: Array.from(h.values), cols: h.cols };
            });
            const tileLink = await page.locator("#tile-link").getAttribute("href");
            assert.ok(
              tileLink && decodeURIComponent(tileLink).includes(`rows=${s.rect[0]}:${s.rect[1]}`),
            );
            const bytes = new Uint8Array(await (await fetch(`${base}${tileLink}`)).arrayBuffer());
            assert.equal(t0.dtype, "BF16");
            const expected = Array.from(
              new Float32Array(
                Uint32Array.from(
                  { length: bytes.length / 2 },
                  (_, i) => (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16,
                ).buffer,
              ),
            );
            assert.equal(s.values.length, (s.rect[1] - s.rect[0]) * (s.rect[3] - s.rect[2]));
            assert.deepEqual(s.values, expected);
            // The keyboard readout shows the same values.
            await page.locator("#heatmap").focus();
            for (
              const key of ["ArrowRight", "ArrowRight", "ArrowRight", "ArrowDown", "ArrowDown"]
            ) {
              await page.keyboard.press(key);
            }
            const readout = await page.locator("#heat-readout").innerText();
            const value = expected[2 * s.cols + 3];
            assert.equal(
              readout,
              `row ${s.rect[0] + 2}, column ${s.rect[2] + 3}: ${value}`,
            );
          });
        },
      );

      await t.step("status page: four live charts from /metrics", async () => {
        await visit(b, `${base}/status`, async ({ page }) => {
          assert.match(await page.locator("main").innerText(), /Requests per second/);
          for (let i = 0; i < 3; i++) {
            await fetch(`${base}/v1/models/${models.llama}/manifest`).then((r) => r.arrayBuffer());
            await page.waitForTimeout(700);
          }
          await page.waitForFunction(() =>
            /now:/.test(document.getElementById("chart-requests-now")!.textContent ?? "")
          );
          await charts(page, ".chart canvas", 4);
        });
      });

      await t.step("download panel: a verified model.safetensors, progress at 100%", async () => {
        await visit(b, `${base}/${models.download.id}`, async ({ page }) => {
          const button = page.locator("#download-start");
          await page.waitForFunction(() =>
            !(document.getElementById("download-start") as HTMLButtonElement).disabled
          );
          const [download] = await Promise.all([
            page.waitForEvent("download", { timeout: 120_000 }),
            button.click(),
          ]);
          const path = `${dir}/downloaded.safetensors`;
          await download.saveAs(path);
          const got = await sha256Hex(await Deno.readFile(path));
          assert.equal(got, models.download.sha256);
          const bar = await page.evaluate(() => {
            const p = document.getElementById("download-bar") as HTMLProgressElement;
            return { value: p.value, max: p.max };
          });
          assert.equal(bar.value, bar.max);
          const status = page.locator("#download-status");
          assert.match(await status.innerText(), /Verified: SHA-256/);
          const ms = Number(await status.getAttribute("data-ms"));
          const received = Number(await status.getAttribute("data-received"));
          const size = (await Deno.stat(path)).size;
          console.log(
            `DOWNLOAD ${models.download.id}: ${(size / 1e6).toFixed(2)} MB verified in ` +
              `${(ms / 1000).toFixed(2)} s (${(size / 1e3 / ms).toFixed(1)} MB/s), ` +
              `${(received / 1e6).toFixed(2)} MB received; layers ${await page.locator("#dl-layers")
                .innerText()}`,
          );
        }, {
          // The container's opening body streams the chunks after the head; the client cancels
          // it once it reaches the tail it fetched on its own (src/client/http_source.ts).
          cancelled: /^GET \S+\/container\?revision=[0-9a-f]+: net::ERR_ABORTED$/,
        });
      });

      await t.step("phone width and dark mode", async () => {
        await visit(b, `${base}/${models.llama}`, async ({ page }) => {
          const overflow = await page.evaluate(() =>
            document.documentElement.scrollWidth - document.documentElement.clientWidth
          );
          assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px at 375px`);
          await charts(page, "#layer-chart canvas", 1);
        }, { width: 375, height: 800 });
        await visit(b, `${base}/status`, async ({ page }) => {
          const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
          assert.equal(bg, "rgb(15, 18, 23)");
        }, { dark: true });
      });

      await t.step({
        name: "a 3,041-tensor model page loads with its table usable",
        ignore: skipIf(!models.many && "../shared/data has no BF16 files", "3,041-tensor page"),
        fn: async () => {
          const url = `${base}/${models.many}`;
          const times: PageTiming[] = [];
          for (let i = 0; i < 6; i++) {
            await visit(b, url, async ({ page }) => {
              times.push(await modelPageTiming(page));
              // Usable: the pager answers the keyboard, and a filter over all 3,041 rows answers.
              await page.locator("#tensor-pager a[rel=next], #tensor-pager button[rel=next]")
                .first().focus();
              await page.keyboard.press("Enter");
              await page.waitForFunction(() =>
                /Page 2 of 61/.test(document.getElementById("tensor-pager")!.textContent!)
              );
              await page.fill("#tensor-q", "proj3");
              await page.waitForFunction(() =>
                /of 3,041 tensors match/.test(document.getElementById("tensor-count")!.textContent!)
              );
            }, { settle: true });
          }
          // The first visit finds the server's caches cold (the commit's figures and rows are
          // computed then); the next ones are what a visitor of a running hub sees.
          const [first, ...warm] = times;
          const m = medianTiming(warm);
          console.log(
            `PAGE LOAD 3,041 tensors, ms from navigation start (load average ` +
              `${Deno.loadavg()[0].toFixed(1)}): first visit usable ${first.usable.toFixed(0)} ` +
              `(HTML ${first.html.toFixed(0)}); next ${warm.length} (fresh contexts, warm ` +
              `server), medians: HTML ${m.html} (${m.htmlBytes} B), DOMContentLoaded ${m.dcl}, ` +
              `rows ${m.rows} (${m.rowsBytes} B), first paint ${m.fcp}, table ready ${m.ready}, ` +
              `a frame since presented ${m.shown}, usable ${m.usable}`,
          );
          // A generous bound, far above the 300 ms goal, so a loaded CI machine does not fail it.
          assert.ok(m.usable < 5000);
        },
      });
    } finally {
      await browser?.close();
      await server?.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
