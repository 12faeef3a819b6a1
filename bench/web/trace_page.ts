/// <reference lib="dom" />
/**
 * Where a model page's load goes, from Chromium's trace: `deno run -A bench/web/trace_page.ts
 * [--runs N] [--port P] [--page many|llama|trivial] [--js off] [--store DIR] [--dump PREFIX]`.
 * Visits the page N times (a fresh settled context each, as `bench:web` does), traces each visit
 * and sums the self time of the page renderer's main-thread work by kind (HTML parse, script,
 * style, layout, paint, the rest) from navigation start to the first contentful paint, beside the
 * medians of the navigation's marks, and the thread CPU until the table was usable (main thread,
 * raster and its tile count, the display compositor's draws; {@link cpuUntil}). `--store` serves
 * an existing fixture store (else one is written, which takes a while); `--dump` writes each trace
 * (`PREFIX-<run>.json`, for chrome://tracing or Perfetto) and adds the sums per event name;
 * `TRACE_CATS=a,b` adds trace categories (e.g. `fonts`). Prints; writes nothing else.
 * @module
 */
import { parseArgs } from "node:util";
import { startPageServer } from "./page_server.ts";
import { launchBrowser } from "../../test/web/browser.ts";
import { writeFixtureModels } from "../../test/web/fixture_store.ts";
import { median, modelPageTiming, SETTLE_MS } from "../../test/web/page_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string" },
    port: { type: "string" },
    page: { type: "string" },
    js: { type: "string" },
    dump: { type: "string" },
    store: { type: "string" },
  },
});
const runs = Number(values.runs ?? 5);
const which = values.page ?? "many";

interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  ts: number;
  dur?: number;
  /** Thread CPU time, µs (complete events). */
  tdur?: number;
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

/** Buckets for the renderer main thread's top-level work. */
function bucket(name: string): string {
  if (name === "ParseHTML") return "parse";
  if (/^(v8\.compile|v8\.compileModule|V8\.CompileCode|v8\.produceModuleCache)/i.test(name)) {
    return "compile";
  }
  if (
    /EvaluateScript|FunctionCall|v8\.run|v8\.evaluateModule|TimerFire|FireAnimationFrame|EventDispatch|RunMicrotasks|v8\.callFunction/
      .test(name)
  ) return "script";
  if (/UpdateLayoutTree|RecalcStyle|ParseAuthorStyleSheet|ScheduleStyleRecalculation/.test(name)) {
    return "style";
  }
  if (name === "Layout" || name === "UpdateLayout") return "layout";
  if (/Paint|Layerize|Commit|PrePaint|UpdateLayer|CompositeLayers|RasterTask/.test(name)) {
    return "paint";
  }
  if (/GC|MinorGC|MajorGC|V8\.GC/.test(name)) return "gc";
  return "other";
}

/**
 * Thread CPU (not wall time: on a shared machine a thread waits for a core, and wall time counts
 * the wait) from navigation start until the table was usable (or the first contentful paint, for
 * a page without the table): the page renderer's main thread (top-level tasks), its raster tasks
 * (and how many tiles), and the display compositor's draws in the GPU process.
 */
function cpuUntil(
  events: TraceEvent[],
  navStart: TraceEvent,
  t: Record<string, number>,
): Record<string, number> {
  const until = navStart.ts + 1000 * Math.max(t.usable ?? 0, t.fcp);
  const within = (e: TraceEvent) =>
    e.ph === "X" && e.dur !== undefined && e.ts >= navStart.ts && e.ts <= until;
  let main = 0, end = -1;
  for (
    const e of events.filter((e) => within(e) && e.pid === navStart.pid && e.tid === navStart.tid)
      .sort((a, b) => a.ts - b.ts || b.dur! - a.dur!)
  ) {
    if (e.ts < end) continue; // nested in a task already counted
    main += e.tdur ?? 0;
    end = e.ts + e.dur!;
  }
  const raster = events.filter((e) =>
    within(e) && e.pid === navStart.pid && e.name === "RasterTask"
  );
  const gpu = new Set(
    events.filter((e) =>
      e.ph === "M" && e.name === "process_name" &&
      (e.args as { name?: string })?.name === "GPU Process"
    ).map((e) => e.pid),
  );
  const draws = events.filter((e) =>
    within(e) && gpu.has(e.pid) && e.name === "DisplayScheduler::DrawAndSwap"
  );
  const ms = (es: TraceEvent[]) => es.reduce((a, e) => a + (e.tdur ?? 0), 0) / 1000;
  return { main: main / 1000, raster: ms(raster), tiles: raster.length, draw: ms(draws) };
}

const dir = values.store ?? await Deno.makeTempDir({ prefix: "tessera_trace_" });
const models = values.store
  ? { many: "bench/synthetic", llama: "demo/stories260k" }
  : await writeFixtureModels(dir, { many: true });
const server = await startPageServer(dir, Number(values.port ?? 9400));
const browser = await launchBrowser();
const path = which === "trivial"
  ? "/-/trivial"
  : `/${which === "many" ? models.many : models.llama}`;
try {
  // Warm the server's caches.
  await (await fetch(`${server.url}/${models.many}`)).text();
  await (await fetch(`${server.url}/${models.llama}`)).text();
  const sums: Record<string, number>[] = [];
  const cpus: Record<string, number>[] = [];
  const marks: Record<string, number>[] = [];
  for (let r = 0; r < runs; r++) {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      javaScriptEnabled: values.js !== "off",
    });
    const page = await context.newPage();
    await page.goto("about:blank");
    await page.waitForTimeout(SETTLE_MS);
    await browser.startTracing(page, {
      categories: [
        "devtools.timeline",
        "disabled-by-default-devtools.timeline",
        "blink.user_timing",
        "loading",
        "v8",
        "v8.execute",
        "toplevel",
        "blink",
        "navigation",
        "cc",
        "viz",
        "benchmark",
        "disabled-by-default-devtools.timeline.frame",
        "rail",
        ...(Deno.env.get("TRACE_CATS")?.split(",") ?? []),
      ],
    });
    if (which === "trivial") {
      await page.route("**/-/trivial", (route) =>
        route.fulfill({
          contentType: "text/html",
          body: "<!doctype html><title>t</title><p>Hello</p>",
        }));
    }
    await page.goto(`${server.url}${path}`);
    let t: Record<string, number>;
    if (values.js !== "off" && which !== "trivial") {
      t = { ...await modelPageTiming(page) };
    } else {
      await page.waitForFunction(() =>
        performance.getEntriesByName("first-contentful-paint").length > 0
      );
      t = await page.evaluate(() => {
        const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
        return {
          ttfb: nav.responseStart,
          html: nav.responseEnd,
          dcl: nav.domContentLoadedEventStart,
          fcp: performance.getEntriesByName("first-contentful-paint")[0].startTime,
        };
      });
    }
    await page.waitForTimeout(300);
    const buf = await browser.stopTracing();
    await context.close();
    const events = (JSON.parse(new TextDecoder().decode(buf)).traceEvents ?? []) as TraceEvent[];
    if (values.dump) await Deno.writeFile(`${values.dump}-${r}.json`, buf);
    // The page's renderer: the process whose main thread has the navigation's commit.
    const navStart = events.find((e) =>
      e.name === "navigationStart" && (e.args?.data as { documentLoaderURL?: string })
        ?.documentLoaderURL?.includes(path)
    );
    if (!navStart) throw new Error("no navigationStart in the trace");
    const pid = navStart.pid, tid = navStart.tid;
    const fcpEv = events.find((e) => e.pid === pid && e.name === "firstContentfulPaint");
    const end = fcpEv ? fcpEv.ts : navStart.ts + t.fcp * 1000;
    const main = events.filter((e) =>
      e.pid === pid && e.tid === tid && e.ph === "X" && e.dur !== undefined
    ).sort((a, b) => a.ts - b.ts || (b.dur! - a.dur!));
    // Self time of each event (its duration less its children's), summed per bucket, within
    // [navStart, end].
    const sum: Record<string, number> = {};
    const stack: { e: TraceEvent; child: number }[] = [];
    const close = (upTo: number) => {
      while (stack.length && stack.at(-1)!.e.ts + stack.at(-1)!.e.dur! <= upTo) {
        const { e, child } = stack.pop()!;
        const a = Math.max(e.ts, navStart.ts), b = Math.min(e.ts + e.dur!, end);
        const self = Math.max(0, b - a) - child;
        if (e.name !== "ThreadControllerImpl::RunTask" && e.name !== "RunTask") {
          const k = bucket(e.name);
          sum[k] = (sum[k] ?? 0) + self / 1000;
          if (values.dump) sum[`:${e.name}`] = (sum[`:${e.name}`] ?? 0) + self / 1000;
        } else sum.task = (sum.task ?? 0) + self / 1000;
        if (stack.length) {
          stack.at(-1)!.child += Math.max(0, b - a);
        }
      }
    };
    for (const e of main) {
      close(e.ts);
      stack.push({ e, child: 0 });
    }
    close(Infinity);
    sum.busy = Object.entries(sum).filter(([k]) => !k.startsWith(":")).reduce(
      (s, [, v]) => s + v,
      0,
    );
    sum.span = (end - navStart.ts) / 1000;
    sums.push(sum);
    cpus.push(cpuUntil(events, navStart, t));
    marks.push(t);
    console.error(
      `run ${r}: ` + Object.entries(t).map(([k, v]) => `${k} ${Math.round(v)}`).join(", "),
    );
  }
  const keys = [...new Set(sums.flatMap((s) => Object.keys(s)))].sort();
  const med = (xs: Record<string, number>[], k: string) =>
    Math.round(10 * median(xs.map((s) => s[k] ?? 0))) / 10;
  console.log(JSON.stringify(
    {
      page: path,
      runs,
      load: Deno.loadavg()[0],
      marks: Object.fromEntries(Object.keys(marks[0]).map((k) => [k, med(marks, k)])),
      mainThreadToFcpMs: Object.fromEntries(keys.map((k) => [k, med(sums, k)])),
      cpuToUsableMs: Object.fromEntries(Object.keys(cpus[0]).map((k) => [k, med(cpus, k)])),
    },
    null,
    1,
  ));
} finally {
  await browser.close();
  await server.close();
  if (!values.store) await Deno.remove(dir, { recursive: true });
}
