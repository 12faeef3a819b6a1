/// <reference lib="dom" />
/**
 * Model page load of two checkouts side by side: `deno run -A bench/web/paired.ts --base DIR
 * [--runs N] [--port P] [--also NAME=DIR ...]`. `DIR` is another checkout of this repository (the
 * baseline, e.g. `git archive <commit> | tar -x -C DIR`); this one is the candidate; each `--also`
 * adds one more checkout to the same run. Each checkout's server (`src/server_main.ts`,
 * one decode worker) serves its own copy of the same fixture store, one Chromium visits the
 * 3,041-tensor and the 47-tensor model pages of both in turn (the order rotating each run), each
 * visit in a fresh settled context, timed by this checkout's `test/web/page_timing.ts`, so both
 * are measured alike at the same moment on a shared machine. Prints the medians and the load
 * average; writes nothing.
 * @module
 */
import { parseArgs } from "node:util";
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
  options: {
    base: { type: "string" },
    also: { type: "string", multiple: true },
    runs: { type: "string" },
    port: { type: "string" },
  },
});
if (!values.base) throw new Error("give --base DIR, a checkout of the baseline");
const runs = Number(values.runs ?? 6);
const port = Number(values.port ?? 47011);
const checkouts: Record<string, string> = {
  base: values.base,
  this: new URL("../../", import.meta.url).pathname,
};
// More checkouts to measure in the same run: `--also NAME=DIR` (repeatable).
for (const a of values.also ?? []) {
  const [name, root] = a.split("=");
  if (!root) throw new Error(`--also wants NAME=DIR: received ${a}`);
  checkouts[name] = root;
}
const load = () => Deno.loadavg()[0];

const dir = await Deno.makeTempDir({ prefix: "tessera_bench_web_paired_" });
const servers: Deno.ChildProcess[] = [];
try {
  const models = await writeFixtureModels(`${dir}/base`, { many: true });
  // The same files for each other store: a store locks its folder.
  for (const name of Object.keys(checkouts).slice(1)) {
    await new Deno.Command("cp", { args: ["-a", `${dir}/base`, `${dir}/${name}`] }).output();
  }
  const urls: Record<string, string> = {};
  for (const [i, [name, root]] of Object.entries(checkouts).entries()) {
    servers.push(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${root}/src/server_main.ts`, "--models", `${dir}/${name}`, "--port"]
          .concat([String(port + i), "--workers", "1", "--no-demo", "--quiet"]),
        cwd: root,
        stdout: "null",
      }).spawn(),
    );
    urls[name] = `http://127.0.0.1:${port + i}`;
  }
  const pages = [models.many!, models.llama];
  for (const url of Object.values(urls)) {
    // Up, and each commit's figures made: the first visit after start is not what is compared.
    for (let i = 0;; i++) {
      const ok = await fetch(`${url}/${pages[0]}`).then(async (r) => (await r.text(), r.ok))
        .catch(() => false);
      if (ok) break;
      if (i > 200) throw new Error(`${url} did not start`);
      await new Promise((r) => setTimeout(r, 300));
    }
    for (const p of pages) await (await fetch(`${url}/${p}`)).text();
  }
  const browser = await launchBrowser();
  const times: Record<string, PageTiming[]> = {};
  const loads = [load()];
  try {
    const names = Object.keys(urls);
    for (let i = 0; i < runs; i++) {
      for (const p of pages) {
        for (
          const name of [...names.slice(i % names.length), ...names.slice(0, i % names.length)]
        ) {
          const w = await watchedPage(browser);
          try {
            await openSettled(w.page, `${urls[name]}/${p}`);
            (times[`${name} ${p}`] ??= []).push(await modelPageTiming(w.page));
            if (w.errors.length + w.failed.length > 0) {
              throw new Error(`${name} ${p}: ${[...w.errors, ...w.failed].join("; ")}`);
            }
          } finally {
            await w.page.context().close();
          }
        }
      }
      loads.push(load());
    }
  } finally {
    await browser.close();
  }
  const rows = Object.entries(times).sort().map(([key, ts]) => {
    const m = medianTiming(ts);
    return {
      key,
      ttfb: m.ttfb,
      rows: m.rows,
      dcl: m.dcl,
      fcp: m.fcp,
      ready: m.ready,
      shown: m.shown,
      usable: m.usable,
      usableEach: ts.map((t) => Math.round(t.usable)).join(" "),
    };
  });
  console.table(rows);
  console.log(
    `${runs} runs; load average median ${median(loads).toFixed(1)} ` +
      `(start ${loads[0].toFixed(1)}, end ${loads.at(-1)!.toFixed(1)})`,
  );
} finally {
  for (const s of servers) {
    s.kill("SIGTERM");
    await s.status;
  }
  await Deno.remove(dir, { recursive: true });
}
