/// <reference lib="dom" />
/**
 * How long a model page took to become usable, read in the page after it is: the navigation's
 * own timing (Chromium's Navigation Timing: time to first byte, HTML received, DOM interactive,
 * DOMContentLoaded, first contentful paint), the tensor rows' fetch (Resource Timing) and the
 * page script's two marks, `tessera:table-ready` (filter, sort and pages wired to every row) and
 * `tessera:table-painted` (a frame has been rendered since: the rows are laid out and painted), and
 * when that frame was presented (Element Timing of what the script reveals as it wires the table).
 * The browser test and `bench:web` use it, so both report the same thing.
 *
 * Both open each visit in a fresh browser context (no HTTP cache, a new renderer) and let it
 * settle before navigating ({@link openSettled}): Chromium spends about a second of CPU on a new
 * context's window (its browser process about 0.6 s, the omnibox's WebUI renderer 0.25 s, the GPU
 * process 0.1 s; measured here through /proc), and on two shared cores a page loaded meanwhile
 * competed with it: that, not the page, was most of the 418 ms the first bench measured for any
 * model page. A visitor's browser has its window open already.
 * @module
 */
import type { Page, Response } from "playwright-core";

/** How long a new context is left to settle before it navigates (the work lasts about 1 s). */
export const SETTLE_MS = 1500;

/** Lets the new context of `page` settle, then navigates to `url`. */
export async function openSettled(page: Page, url: string): Promise<Response | null> {
  await page.goto("about:blank");
  await page.waitForTimeout(SETTLE_MS);
  return await page.goto(url);
}

/** Milliseconds from navigation start, and the HTML's size. */
export interface PageTiming {
  /** First byte of the HTML. */
  readonly ttfb: number;
  /** Last byte of the HTML. */
  readonly html: number;
  /** The HTML parsed. */
  readonly domInteractive: number;
  /** DOMContentLoaded (the page's first script has run). */
  readonly dcl: number;
  /** First contentful paint. */
  readonly fcp: number;
  /** The tensor rows received (the end of their fetch), or NaN if none was made. */
  readonly rows: number;
  /** The table's controls wired to every row. */
  readonly ready: number;
  /**
   * The first frame made after that, presented: the renderTime Element Timing gives the Copy
   * buttons, which the page script reveals as it wires the table (`elementtiming="tessera-wired"`).
   */
  readonly shown: number;
  /**
   * The table is usable: wired, and a frame made since on the screen. The latest of the page's
   * mark `tessera:table-painted` (a frame made since the table was wired), `shown` (that frame
   * presented) and the first contentful paint.
   */
  readonly usable: number;
  /** Bytes of the HTML as transferred. */
  readonly htmlBytes: number;
  /** Bytes of the rows as transferred (0 from the browser's cache). */
  readonly rowsBytes: number;
}

/**
 * Waits until the model page on `page` is usable, then reads its timing. It waits with a plain
 * evaluation that polls the page's flag: `page.waitForFunction` first loads Playwright's injected
 * script into the page, 30-37 ms of the renderer's main thread (Chromium traces, loaded machine),
 * which landed while the page was making or showing its first frame and was counted in its time.
 */
export async function modelPageTiming(page: Page): Promise<PageTiming> {
  await page.evaluate(() =>
    new Promise<void>((resolve, reject) => {
      // When the first frame made after the table was wired was presented. The page's own mark is
      // when that frame was made (or when the first paint was shown, if later): on a page whose
      // first frame was shown before its script ran, the frame made after it could be presented
      // tens of ms after the mark (raster, then presentation).
      let shown = NaN;
      new PerformanceObserver((list) => {
        const entries = list.getEntries() as (PerformanceEntry & {
          renderTime: number;
          identifier: string;
        })[];
        for (const e of entries) {
          if (e.identifier === "tessera-wired") {
            const at = e.renderTime;
            if (at > 0 && !(shown <= at)) shown = at;
          }
        }
        document.documentElement.dataset.tableShown = String(shown);
      }).observe({ type: "element", buffered: true });
      const started = performance.now();
      // The first contentful paint too: `usable` is never earlier, and an older page may mark
      // its table painted before Chromium reports that paint.
      const check = () =>
        document.documentElement.dataset.tablePainted === "true" && !Number.isNaN(shown) &&
          performance.getEntriesByName("first-contentful-paint").length > 0
          ? resolve()
          : performance.now() - started > 20_000
          ? reject(new Error("no Element Timing entry for the Copy buttons (tessera-wired)"))
          : setTimeout(check, 10);
      check();
    })
  );
  return await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    const rows = performance.getEntriesByType("resource")
      .find((e) => new URL(e.name).pathname.startsWith("/-/rows/")) as
        | PerformanceResourceTiming
        | undefined;
    const mark = (name: string) => performance.getEntriesByName(name)[0]?.startTime ?? NaN;
    return {
      ttfb: nav.responseStart,
      html: nav.responseEnd,
      domInteractive: nav.domInteractive,
      dcl: nav.domContentLoadedEventStart,
      fcp: mark("first-contentful-paint"),
      rows: rows?.responseEnd ?? NaN,
      ready: mark("tessera:table-ready"),
      shown: Number(document.documentElement.dataset.tableShown),
      usable: Math.max(
        mark("tessera:table-painted"),
        Number(document.documentElement.dataset.tableShown),
        mark("first-contentful-paint"),
      ),
      htmlBytes: nav.transferSize,
      rowsBytes: rows?.transferSize ?? 0,
    };
  });
}

/** The median of `xs`. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The medians of each field of `timings`, rounded to the millisecond. */
export function medianTiming(timings: readonly PageTiming[]): Record<keyof PageTiming, number> {
  const keys = Object.keys(timings[0]) as (keyof PageTiming)[];
  return Object.fromEntries(
    keys.map((k) => [k, Math.round(median(timings.map((t) => t[k])))]),
  ) as Record<keyof PageTiming, number>;
}
