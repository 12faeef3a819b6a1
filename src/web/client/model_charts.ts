/// <reference lib="dom" />
/**
 * The model page's charts, a bundle of their own that the page loads once its table is usable:
 * the per-layer chart and the exponent histogram of a chosen tensor (fetched through the tile API
 * in row bands, never more than {@link HISTOGRAM_BUDGET} bytes).
 * @module
 */
import type { Dtype } from "../../../codec/dtype.ts";
import { exponentCounts, exponentField } from "../shared/element_values.ts";
import { formatBytes, formatCount, formatRatio } from "../shared/format.ts";
import { tileApiUrl } from "../shared/links.ts";
import type { TensorRow } from "../shared/tensor_table.ts";
import { barChart, type Chart } from "./charts.ts";
import { byId, h } from "./dom.ts";
import type { ModelPageData } from "./model.ts";

/** Most bytes the exponent histogram fetches. */
export const HISTOGRAM_BUDGET = 2 << 20;
/** Row bands a large tensor's histogram samples. */
const BANDS = 8;

/**
 * Draws the per-layer chart, wires the histogram's form and draws the histogram of the tensor the
 * page names.
 */
export function drawModelCharts(data: ModelPageData, rows: readonly TensorRow[]): void {
  layerChart(data);
  histogram(data, rows);
}

function layerChart(data: ModelPageData) {
  const layerLabel = (key: string) => {
    const m = /(?:^|\.)(\d+)$/.exec(key);
    return m ? m[1] : key.split(".").slice(-1)[0] || key;
  };
  barChart(byId("layer-chart"), {
    x: data.layers.map((_, i) => i),
    xName: "layer",
    xLabel: (i) => (Number.isInteger(i) && data.layers[i] ? layerLabel(data.layers[i][0]) : ""),
    yFormat: formatBytes,
    y2Format: (v) => `${v.toFixed(2)}×`,
    series: [
      {
        label: "raw",
        values: data.layers.map((l) => l[1]),
        colour: "--saved",
        format: formatBytes,
      },
      {
        label: "stored",
        values: data.layers.map((l) => l[2]),
        colour: "--stored",
        format: formatBytes,
      },
      {
        label: "ratio",
        values: data.layers.map((l) => (l[2] > 0 ? l[1] / l[2] : null)),
        colour: "--ratio",
        line: true,
        format: (v) => `${v.toFixed(3)}×`,
      },
    ],
  });
  // The legend names the layer under the cursor in full.
  byId("layer-chart").dataset.layers = String(data.layers.length);
}

function bandsOf(r: TensorRow): [number, number, number, number][] {
  const elements = r.shape.reduce((a, b) => a * b, 1);
  const width = elements > 0 ? r.raw / elements : 1;
  const cols = r.shape.length === 0 ? 1 : r.shape[r.shape.length - 1];
  const rowsN = cols > 0 ? elements / cols : 0;
  if (elements === 0) return [];
  if (r.raw <= HISTOGRAM_BUDGET) return [[0, rowsN, 0, cols]];
  const perBand = HISTOGRAM_BUDGET / BANDS;
  if (cols * width <= perBand) {
    const bandRows = Math.max(1, Math.floor(perBand / (cols * width)));
    return Array.from({ length: BANDS }, (_, b) => {
      const start = Math.floor((b * (rowsN - bandRows)) / (BANDS - 1));
      return [start, start + bandRows, 0, cols];
    });
  }
  // Rows wider than a band: a run of columns from each of a few rows.
  const bandCols = Math.max(1, Math.floor(perBand / width));
  return Array.from({ length: BANDS }, (_, b) => {
    const row = Math.floor((b * (rowsN - 1)) / Math.max(1, BANDS - 1));
    const start = Math.floor((b * (cols - bandCols)) / (BANDS - 1));
    return [row, row + 1, start, start + bandCols];
  });
}

function histogram(data: ModelPageData, rows: readonly TensorRow[]) {
  const histInput = byId<HTMLInputElement>("hist-tensor");
  const histNote = byId("hist-note");
  let histChart: Chart | null = null;
  let histRun = 0;

  async function showHistogram(name: string) {
    const run = ++histRun;
    const r = rows.find((x) => x.name === name);
    if (!r) {
      histNote.textContent = `No tensor named “${name}”.`;
      return;
    }
    const field = exponentField(r.dtype as Dtype);
    if (!field) {
      histNote.textContent = `${r.name} is ${r.dtype}: an integer dtype has no exponent.`;
      histChart?.destroy();
      histChart = null;
      byId("hist-chart").replaceChildren();
      return;
    }
    histNote.textContent = `Fetching ${r.name}…`;
    const counts = new Float64Array(1 << field.bits);
    let elements = 0;
    const bands = bandsOf(r);
    for (const rect of bands) {
      const res = await fetch(tileApiUrl(data.org, data.name, data.commit, r, rect));
      if (!res.ok) throw new Error(`tile API: HTTP ${res.status} for ${r.name}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const c = exponentCounts(bytes, field);
      for (let i = 0; i < c.length; i++) counts[i] += c[i];
      elements += bytes.length / field.width;
    }
    if (run !== histRun) return;
    let lo = 0, hi = counts.length - 1;
    while (lo < hi && counts[lo] === 0) lo++;
    while (hi > lo && counts[hi] === 0) hi--;
    const x = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i - field.bias);
    const y = Array.from(counts.subarray(lo, hi + 1));
    histChart?.destroy();
    histChart = barChart(byId("hist-chart"), {
      x,
      xName: "exponent",
      xLabel: (v) => String(Math.round(v)),
      yFormat: (v) => formatCount(v),
      barWidth: 0.9,
      series: [{ label: "elements", values: y, colour: "--stored", format: formatCount }],
    });
    const total = r.shape.reduce((a, b) => a * b, 1);
    const distinct = y.filter((v) => v > 0).length;
    let entropy = 0;
    for (const v of y) if (v > 0) entropy -= (v / elements) * Math.log2(v / elements);
    histNote.textContent =
      `${r.name} (${r.dtype}): ${formatCount(elements)} of ${formatCount(total)} ` +
      `elements${bands.length > 1 ? ` in ${bands.length} bands` : ""}; ${distinct} exponents, ` +
      `${entropy.toFixed(2)} bits of entropy; stored ${formatRatio(r.raw, r.stored)} smaller.`;
    byId("hist-chart").dataset.tensor = r.name;
  }

  const histNames = byId<HTMLDataListElement>("hist-names");
  histInput.addEventListener("focus", () => {
    if (histNames.childElementCount > 0) return;
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      if (exponentField(r.dtype as Dtype)) frag.append(h("option", { value: r.name }));
    }
    histNames.append(frag);
  }, { once: true });
  byId<HTMLFormElement>("hist-form").addEventListener("submit", (e) => {
    e.preventDefault();
    showHistogram(histInput.value.trim()).catch((err) => (histNote.textContent = String(err)));
  });
  if (data.histogramTensor) {
    showHistogram(data.histogramTensor).catch((err) => (histNote.textContent = String(err)));
  }
}
