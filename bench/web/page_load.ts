/// <reference lib="dom" />
/**
 * `deno task bench:web`: page load times in headless Chromium on loopback, paired in one run:
 * the model page of the 3,041-tensor synthetic model against that of a 47-tensor model (the
 * baseline: what any page costs on this machine at this moment), each visit in a fresh browser
 * context (no cache), taken in turn; then the in-browser verified download of a real 8 MB model.
 * Reports medians, and the load average, since the machine is shared. `--runs N` (default 9).
 * Writes `bench/results/web-<date>.json`.
 * @module
 */
import { parseArgs } from "node:util";
import { defaultConfig } from "../../src/server/config.ts";
import { startServer } from "../../src/server/server.ts";
import { launchBrowser, watchedPage } from "../../test/web/browser.ts";
import { writeFixtureModels } from "../../test/web/fixture_store.ts";

const { values } = parseArgs({ args: Deno.args, options: { runs: { type: "string" } } });
const runs = Number(values.runs ?? 9);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => Deno.loadavg()[0].toFixed(1);

const dir = await Deno.makeTempDir({ prefix: "tessera_bench_web_" });
const models = await writeFixtureModels(dir, { many: true });
const server = await startServer(
  defaultConfig({ modelsDir: dir, port: 0, host: "127.0.0.1", workers: 1, quiet: true }),
  () => {},
);
const browser = await launchBrowser();
const loadAverageStart = load();
try {
  const visit = async (path: string) => {
    const w = await watchedPage(browser);
    try {
      await w.page.goto(`${server.url}${path}`);
      await w.page.waitForFunction(() => document.documentElement.dataset.tableReady === "true");
      return await w.page.evaluate(() => {
        const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
        return {
          html: nav.responseEnd - nav.requestStart,
          ready: performance.getEntriesByName("tessera:table-ready")[0].startTime,
          bytes: nav.transferSize,
        };
      });
    } finally {
      await w.page.context().close();
    }
  };
  // One visit each to warm the server's caches (figures are computed once per commit).
  await visit(`/${models.many}`);
  await visit(`/${models.llama}`);
  const many: Awaited<ReturnType<typeof visit>>[] = [], small: typeof many = [];
  for (let i = 0; i < runs; i++) {
    many.push(await visit(`/${models.many}`));
    small.push(await visit(`/${models.llama}`));
  }
  const downloads: { ms: number; size: number; received: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const w = await watchedPage(browser);
    try {
      await w.page.goto(`${server.url}/${models.download.id}`);
      await w.page.waitForFunction(() =>
        !(document.getElementById("download-start") as HTMLButtonElement).disabled
      );
      await Promise.all([w.page.waitForEvent("download"), w.page.click("#download-start")]);
      const s = w.page.locator("#download-status");
      downloads.push({
        ms: Number(await s.getAttribute("data-ms")),
        received: Number(await s.getAttribute("data-received")),
        size: (await Deno.stat(models.download.path)).size,
      });
    } finally {
      await w.page.context().close();
    }
  }
  const report = {
    runs,
    loadAverage: { start: loadAverageStart, end: load() },
    page3041: {
      tableReadyMs: median(many.map((x) => x.ready)),
      htmlMs: median(many.map((x) => x.html)),
      htmlBytes: many[0].bytes,
    },
    page47: {
      tableReadyMs: median(small.map((x) => x.ready)),
      htmlMs: median(small.map((x) => x.html)),
      htmlBytes: small[0].bytes,
    },
    download: {
      model: models.download.id,
      bytes: downloads[0].size,
      received: downloads[0].received,
      msEach: downloads.map((d) => Math.round(d.ms)),
      mbPerSecondMedian: Number(
        (downloads[0].size / 1e3 / median(downloads.map((d) => d.ms))).toFixed(1),
      ),
    },
  };
  // Like every bench, the report is kept as JSON in bench/results/ (printed as well).
  const text = JSON.stringify({ date: new Date().toISOString(), ...report }, null, 2);
  const out = new URL(
    `../results/web-${new Date().toISOString().slice(0, 10)}.json`,
    import.meta.url,
  );
  await Deno.writeTextFile(out, text + "\n");
  console.log(text);
} finally {
  await browser.close();
  await server.close();
  await Deno.remove(dir, { recursive: true });
}
