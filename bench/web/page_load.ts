/// <reference lib="dom" />
/**
 * `deno task bench:web`: page load times in headless Chromium on loopback, paired in one run:
 * the model page of the 3,041-tensor synthetic model against that of a 47-tensor model (the
 * baseline: what any page costs on this machine at this moment). Each visit opens a fresh browser
 * context (no HTTP cache, a new renderer), lets it settle (`openSettled`), the two pages taken in
 * turn. What is timed is
 * navigation start to the table being usable: its controls wired to every row and a frame made
 * since on the screen (`test/web/page_timing.ts`), with the navigation's phases beside it. The first visit of
 * each page after the server starts (its caches cold: the commit's figures not yet computed) is
 * reported apart; so are revisits in the same context (the browser's cache warm). Then the
 * in-browser verified download of a real 8 MB model. Reports medians, and the load average, since
 * the machine is shared. `--runs N` (default 9); `--port P` (default 0: any free port); writes
 * `bench/results/web-<date>.json`, or `--out FILE`.
 * @module
 */
import { parseArgs } from "node:util";
import { startPageServer } from "./page_server.ts";
import { launchBrowser, watchedPage } from "../../test/web/browser.ts";
import { writeFixtureModels } from "../../test/web/fixture_store.ts";
import {
  median,
  medianTiming,
  modelPageTiming,
  openSettled,
  type PageTiming,
} from "../../test/web/page_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string" }, port: { type: "string" }, out: { type: "string" } },
});
const runs = Number(values.runs ?? 9);
const load = () => Number(Deno.loadavg()[0].toFixed(1));

const dir = await Deno.makeTempDir({ prefix: "tessera_bench_web_" });
const models = await writeFixtureModels(dir, { many: true });
const server = await startPageServer(dir, Number(values.port ?? 0));
const browser = await launchBrowser();
const loads = [load()];
try {
  /** Visits `path` `times` times in one fresh context; the timing of each visit. */
  const visit = async (path: string, times = 1) => {
    const w = await watchedPage(browser);
    try {
      const out: PageTiming[] = [];
      for (let i = 0; i < times; i++) {
        if (i === 0) await openSettled(w.page, `${server.url}${path}`);
        else await w.page.goto(`${server.url}${path}`);
        out.push(await modelPageTiming(w.page));
        // Let the charts finish their fetches, which a next navigation would abort (waiting for
        // the network to be idle was not enough: it could be idle before the charts began).
        if (i + 1 < times) await w.page.waitForSelector("#hist-chart[data-tensor]");
      }
      if (w.errors.length + w.failed.length > 0) {
        throw new Error(`${path}: ${[...w.errors, ...w.failed].join("; ")}`);
      }
      return out;
    } finally {
      await w.page.context().close();
    }
  };
  const first = {
    page3041: (await visit(`/${models.many}`))[0],
    page47: (await visit(`/${models.llama}`))[0],
  };
  const many: PageTiming[] = [], small: PageTiming[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate which page goes first, so neither always follows the other.
    if (i % 2 === 0) {
      many.push(...await visit(`/${models.many}`));
      small.push(...await visit(`/${models.llama}`));
    } else {
      small.push(...await visit(`/${models.llama}`));
      many.push(...await visit(`/${models.many}`));
    }
    loads.push(load());
  }
  const revisits: PageTiming[] = [];
  for (let i = 0; i < 3; i++) revisits.push((await visit(`/${models.many}`, 2))[1]);

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
  loads.push(load());
  const report = {
    runs,
    measured: "ms from navigation start; usable = table wired to every row and the first " +
      "frame made since presented (Element Timing; never before the first contentful paint)",
    loadAverage: { start: loads[0], end: loads.at(-1), median: median(loads) },
    firstVisitColdServer: first,
    page3041: medianTiming(many),
    page47: medianTiming(small),
    page3041UsableEach: many.map((t) => Math.round(t.usable)),
    page47UsableEach: small.map((t) => Math.round(t.usable)),
    page3041Revisit: medianTiming(revisits),
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
  const out = values.out ??
    new URL(`../results/web-${new Date().toISOString().slice(0, 10)}.json`, import.meta.url);
  await Deno.writeTextFile(out, text + "\n");
  console.log(text);
} finally {
  await browser.close();
  await server.close();
  await Deno.remove(dir, { recursive: true });
}
