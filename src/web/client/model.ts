/// <reference lib="dom" />
/**
 * The model page's first script: the tensor table, and nothing that can wait. The table's rows
 * are in the HTML already; this wires filtering, sorting and paging to the rows of the whole
 * revision (fetched from `rowsUrl`, which the page preloads while it is parsed), marks the table
 * usable (`tessera:table-ready`, then `tessera:table-painted` once a frame has shown it), and only
 * then loads the charts' bundle (uPlot, the per-layer chart, the exponent histogram). The
 * download panel's code loads when its button is pressed.
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
  /** The revision's tensor rows ({@link PackedRows} as JSON), cacheable for good. */
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

const data = pageData<ModelPageData>();
const rows: Promise<TensorRow[]> = fetch(data.rowsUrl).then(async (res) => {
  if (!res.ok) throw new Error(`tensor rows: HTTP ${res.status}`);
  return unpackRows(await res.json() as PackedRows);
});
const duplicates = new Set(data.duplicates);
const href = (r: TensorRow) =>
  tensorHref(data.org, data.name, data.revision, r, duplicates.has(r.name));

wireCopyButtons();
wireDownload();
rows.then((all) => {
  enhanceTensorTable(() => all, href);
  performance.mark("tessera:table-ready");
  document.documentElement.dataset.tableReady = "true";
  // The frame after this one has laid out and painted the table: the page is usable. The
  // charts start after it, so they never delay the table.
  requestAnimationFrame(() =>
    setTimeout(() => {
      performance.mark("tessera:table-painted");
      document.documentElement.dataset.tablePainted = "true";
      import(data.charts).then((m: typeof import("./model_charts.ts")) =>
        m.drawModelCharts(data, all)
      ).catch((e) => (byId("hist-note").textContent = `Charts failed: ${e?.message ?? e}`));
    })
  );
}).catch((e) => (byId("tensor-count").textContent = String(e?.message ?? e)));

// The download panel: its code (the client, the decoder, the WebAssembly kernels) loads on use.
function wireDownload() {
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
