/// <reference lib="dom" />
/**
 * The model page's first script: the tensor table, and nothing that can wait. The table's first
 * rows are in the HTML already; the page's head starts this script with the revision's rows (a
 * JSON module it imports beside it, see {@link start}), and this wires filtering, sorting and
 * paging to all of them, marks the table usable (`tessera:table-ready`, then
 * `tessera:table-painted` once a frame made since is on the screen), and only then loads the
 * charts' bundle (uPlot, the per-layer chart, the exponent histogram). The download panel's code
 * loads when its button is pressed.
 *
 * Why: with one bundle for everything, 64 KiB of script (uPlot, the per-layer chart, the first
 * histogram's tile fetches) ran before the table was usable and before the page's first paint;
 * this script is 7 KiB. The rows are not in the HTML because they were 273 KB of the 3,041-tensor
 * page's 323 KB, serialised on each request; fetched, they are made once per commit and cached.
 * @module
 */
import { tensorHref } from "../shared/links.ts";
import { type PackedRows, type TensorRow, unpackRows } from "../shared/tensor_table.ts";
import { byId, pageData, wireCopyButtons } from "./dom.ts";
import { enhanceTensorTable } from "./tensor_table_view.ts";

/** What the server embeds in the model page. */
export interface ModelPageData {
  readonly org: string;
  readonly name: string;
  readonly commit: string;
  readonly revision: string | null;
  readonly duplicates: string[];
  readonly layers: [key: string, raw: number, stored: number, tensors: number][];
  readonly histogramTensor: string | null;
  /** The revision's tensor rows ({@link PackedRows} as JSON), cacheable for good; the page's head imports them. */
  readonly rowsUrl: string;
  /** The charts' bundle. */
  readonly charts: string;
  readonly download: DownloadData | null;
}

/** What the download panel needs. */
export interface DownloadData {
  readonly file: string;
  readonly size: number;
  readonly stored: number;
  readonly sha256: string;
  readonly modelUrl: string;
  readonly containerUrl: string;
  readonly script: string;
  readonly wasm: string;
}

/**
 * Starts the page with the revision's tensor rows, which the page's head imports as a JSON module
 * beside this script (`startWith` in `src/web/views/layout.tsx`): both are fetched while the page is
 * parsed, and this runs once it is, so the table is wired before the browser renders the first
 * frame, and that frame shows it usable.
 *
 * Why: fetched by this script (with `<link rel="preload">`), the rows arrived in time but their
 * `fetch().json()` resolved tasks after the browser had rendered the first frame, and the table
 * was usable only a frame later (3,041 tensors, quiet machine: DOMContentLoaded 182 ms, first
 * paint 296, table wired 320, usable 366).
 */
export function start(packed: PackedRows): void {
  const data = pageData<ModelPageData>();
  const duplicates = new Set(data.duplicates);
  const href = (r: TensorRow) =>
    tensorHref(data.org, data.name, data.revision, r, duplicates.has(r.name));
  // The rows become objects when first needed (a filter, a sort, a page, the charts): 3,041 of
  // them took about 5 ms and two minor collections before the first frame otherwise.
  let all: TensorRow[] | null = null;
  const rows = () => (all ??= unpackRows(packed));
  wireCopyButtons();
  wireDownload(data);
  enhanceTensorTable(rows, href);
  performance.mark("tessera:table-ready");
  document.documentElement.dataset.tableReady = "true";
  // The page is usable once a frame made after this one is on the screen: the browser has made
  // the frame when a task runs after its animation frame callbacks, and the first frame is on
  // the screen when its paint timing is reported (a frame can be made long before it is shown
  // on a busy machine). The charts start after that, so they never delay the table.
  requestAnimationFrame(() =>
    setTimeout(() => {
      const made = performance.now();
      firstPaintShown((shown) => {
        // When the frame was made, or shown if that was later (the observer may hear of the
        // paint a while after it).
        performance.mark("tessera:table-painted", { startTime: Math.max(made, shown) });
        document.documentElement.dataset.tablePainted = "true";
        import(data.charts).then((m: typeof import("./model_charts.ts")) =>
          m.drawModelCharts(data, rows())
        ).catch((e) => (byId("hist-note").textContent = `Charts failed: ${e?.message ?? e}`));
      });
    })
  );
}

/**
 * Calls `fn` with the time of the page's first contentful paint once it has been shown (at once
 * if it has).
 */
function firstPaintShown(fn: (shownAt: number) => void): void {
  const shown = () => performance.getEntriesByName("first-contentful-paint")[0]?.startTime;
  const at = shown();
  if (at !== undefined) return fn(at);
  const observer = new PerformanceObserver(() => {
    const at = shown();
    if (at === undefined) return;
    observer.disconnect();
    fn(at);
  });
  observer.observe({ type: "paint" });
}

// The download panel: its code (the client, the decoder, the WebAssembly kernels) loads on use.
function wireDownload(data: ModelPageData) {
  if (!data.download) return;
  const d = data.download;
  const start = byId<HTMLButtonElement>("download-start");
  start.disabled = false;
  start.addEventListener("click", async () => {
    start.disabled = true;
    const status = byId("download-status");
    try {
      status.textContent = "Loading the decoder…";
      const mod = await import(d.script) as typeof import("./download.ts");
      await mod.runDownload(d);
    } catch (e) {
      status.textContent = `Download failed: ${(e as Error).message ?? e}`;
      status.classList.add("badge", "bad");
    } finally {
      start.disabled = false;
    }
  });
}
