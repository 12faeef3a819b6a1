/// <reference lib="dom" />
/**
 * The tensor view's script: fetches the chosen tile through the tile API (only that tile), checks
 * its bytes against the XXH32 the container recorded for the tile, decodes its values here and
 * draws them as a heatmap you can read with the mouse or the arrow keys, with their histogram.
 * The tile map selects tiles without reloading the page.
 * @module
 */
import type { Dtype } from "../../../codec/dtype.ts";
import { xxh32 } from "../../../codec/xxh32.ts";
import { elementValues, valueHistogram } from "../shared/element_values.ts";
import { formatBytes, formatCount, formatRatio } from "../shared/format.ts";
import { tileApiUrl } from "../shared/links.ts";
import { barChart, type Chart, cssColour } from "./charts.ts";
import { byId, pageData } from "./dom.ts";

interface TensorPageData {
  readonly org: string;
  readonly name: string;
  readonly commit: string;
  readonly revision: string | null;
  readonly file: string;
  readonly tensor: string;
  readonly dtype: Dtype;
  readonly grid: {
    rows: number;
    cols: number;
    tileRows: number;
    tileCols: number;
    gridRows: number;
    gridCols: number;
  };
  readonly chunks: [stored: number, raw: number, xxh: number][];
  readonly tile: number;
}

/** What the heatmap shows, kept for the readout (and for tests and the console). */
export interface HeatmapState {
  /** The tile. */
  tile: number;
  /** Its rectangle in the matrix view. */
  rect: [number, number, number, number];
  /** Rows and columns drawn (a one-row tile is wrapped into rows of {@link WRAP}). */
  rows: number;
  cols: number;
  /** The tile's values, row-major within the tile. */
  values: Float64Array;
  /** The bytes the tile API returned. */
  bytes: Uint8Array;
  /** Whether they matched the recorded checksum. */
  verified: boolean;
}

/** Width at which a single-row tile is wrapped for display. */
const WRAP = 256;
/** Largest on-screen width of the heatmap, in CSS pixels. */
const MAX_WIDTH = 768;

const data = pageData<TensorPageData>();
const g = data.grid;
const state: { heatmap: HeatmapState | null } = { heatmap: null };
(globalThis as unknown as { tessera: typeof state }).tessera = state;

const canvas = byId<HTMLCanvasElement>("heatmap");
const readout = byId("heat-readout");
const badge = document.getElementById("tile-badge");
let cursor = { r: 0, c: 0 };
let zoom = 1;
let histChart: Chart | null = null;
let run = 0;

function rectOf(i: number): [number, number, number, number] {
  const tr = Math.floor(i / g.gridCols), tc = i % g.gridCols;
  const r0 = tr * g.tileRows, c0 = tc * g.tileCols;
  return [r0, Math.min(g.rows, r0 + g.tileRows), c0, Math.min(g.cols, c0 + g.tileCols)];
}

const rgb = (name: string) => cssColour(name).split(",").map((v) => Number(v.trim()));
const hex = (name: string) => {
  const v = cssColour(name);
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(v);
  return m ? [1, 2, 3].map((k) => parseInt(m[k], 16)) : [128, 128, 128];
};

function draw(s: HeatmapState) {
  const neg = rgb("--heat-neg"), pos = rgb("--heat-pos"), mid = hex("--bg2"), nan = hex("--fg");
  let maxAbs = 0, min = Infinity, max = -Infinity;
  for (const v of s.values) {
    if (!Number.isFinite(v)) continue;
    maxAbs = Math.max(maxAbs, Math.abs(v));
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  canvas.width = s.cols;
  canvas.height = s.rows;
  zoom = Math.max(1, Math.min(8, Math.floor(MAX_WIDTH / s.cols)));
  canvas.style.width = `${Math.min(s.cols * zoom, MAX_WIDTH)}px`;
  canvas.style.height = `${(Math.min(s.cols * zoom, MAX_WIDTH) / s.cols) * s.rows}px`;
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(s.cols, s.rows);
  const px = img.data;
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i];
    let c = nan;
    if (Number.isFinite(v)) {
      const t = maxAbs > 0 ? Math.abs(v) / maxAbs : 0;
      const to = v < 0 ? neg : pos;
      c = [0, 1, 2].map((k) => mid[k] + (to[k] - mid[k]) * Math.sqrt(t));
    }
    px[4 * i] = c[0];
    px[4 * i + 1] = c[1];
    px[4 * i + 2] = c[2];
    px[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  byId("heat-min").textContent = Number.isFinite(min) ? `−${maxAbs.toPrecision(3)}` : "-";
  byId("heat-max").textContent = Number.isFinite(max) ? `+${maxAbs.toPrecision(3)}` : "-";
}

/** The text of the readout at display cell (r, c). */
function describe(s: HeatmapState, r: number, c: number): string {
  const e = r * s.cols + c;
  if (e >= s.values.length) return "";
  const tileCols = s.rect[3] - s.rect[2];
  const row = s.rect[0] + Math.floor(e / tileCols), col = s.rect[2] + (e % tileCols);
  return `row ${row}, column ${col}: ${s.values[e]}`;
}

function showCursor() {
  const s = state.heatmap;
  if (!s) return;
  readout.textContent = describe(s, cursor.r, cursor.c);
}

async function loadTile(i: number) {
  const mine = ++run;
  const rect = rectOf(i);
  const [stored, raw, recorded] = data.chunks[i];
  byId("tile-index").textContent = String(i);
  byId("tile-rows").textContent = `${rect[0]}–${rect[1] - 1}`;
  byId("tile-cols").textContent = `${rect[2]}–${rect[3] - 1}`;
  byId("tile-raw").textContent = formatBytes(raw);
  byId("tile-stored").textContent = `${formatBytes(stored)} (${formatRatio(raw, stored)})`;
  const url = tileApiUrl(
    data.org,
    data.name,
    data.commit,
    { name: data.tensor, file: data.file },
    rect,
  );
  byId<HTMLAnchorElement>("tile-link").href = url;
  const hexOf = (n: number) => n.toString(16).padStart(8, "0");
  if (badge) {
    badge.className = "badge wait";
    badge.textContent = `XXH32 ${hexOf(recorded)}: checking…`;
  }
  for (const el of document.querySelectorAll("#tilemap rect.sel")) el.classList.remove("sel");
  document.querySelector(`#tilemap a[data-tile="${i}"] rect`)?.classList.add("sel");
  const res = await fetch(url);
  if (!res.ok) throw new Error(`tile API: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (mine !== run) return;
  // A tile of the storage grid is exactly one chunk's decoded bytes, so the XXH32 the writer
  // recorded for the chunk covers the bytes received.
  const got = xxh32(bytes);
  const verified = got === recorded && bytes.length === raw;
  if (badge) {
    badge.className = verified ? "badge ok" : "badge bad";
    badge.textContent = verified
      ? `✓ Verified: XXH32 ${hexOf(got)} matches the chunk's recorded checksum`
      : `✗ XXH32 ${hexOf(got)} (${bytes.length} bytes) does not match ${hexOf(recorded)}`;
  }
  const values = elementValues(bytes, data.dtype);
  const tileRows = rect[1] - rect[0], tileCols = rect[3] - rect[2];
  const wrap = tileRows === 1 && tileCols > WRAP;
  const s: HeatmapState = {
    tile: i,
    rect,
    rows: wrap ? Math.ceil(tileCols / WRAP) : tileRows,
    cols: wrap ? WRAP : tileCols,
    values,
    bytes,
    verified,
  };
  state.heatmap = s;
  draw(s);
  cursor = { r: 0, c: 0 };
  showCursor();
  const hist = valueHistogram(values, 64);
  histChart?.destroy();
  const w = (hist.max - hist.min) / 64 || 1;
  histChart = barChart(byId("value-hist"), {
    x: Array.from(hist.edges.subarray(0, 64), (e) => e + w / 2),
    xName: "value",
    xLabel: (v) => v.toPrecision(2),
    yFormat: (v) => formatCount(v),
    barWidth: 1,
    series: [{ label: "elements", values: hist.counts, colour: "--stored", format: formatCount }],
  });
  byId("value-hist-note").textContent =
    `${formatCount(values.length)} values from ${hist.min.toPrecision(4)} to ${
      hist.max.toPrecision(4)
    }` +
    (hist.nonFinite > 0 ? `; ${formatCount(hist.nonFinite)} not finite (not binned)` : "");
  canvas.dataset.tile = String(i);
}

function select(i: number) {
  if (i < 0 || i >= data.chunks.length) return;
  const q = new URLSearchParams(location.search);
  q.set("tile", String(i));
  history.replaceState(null, "", `${location.pathname}?${q}`);
  byId<HTMLInputElement>("tile-number").value = String(i);
  loadTile(i).catch((e) => {
    if (badge) {
      badge.className = "badge bad";
      badge.textContent = `Could not load the tile: ${(e as Error).message}`;
    }
  });
}

// The map: a click selects without reloading; arrow keys move the selection.
const map = document.getElementById("tilemap");
if (map) {
  map.addEventListener("click", (e) => {
    const a = (e.target as Element).closest("a[data-tile]");
    if (!a) return;
    e.preventDefault();
    select(Number(a.getAttribute("data-tile")));
  });
  map.addEventListener("keydown", (e) => {
    const cur = state.heatmap?.tile ?? data.tile;
    const moves: Record<string, number> = {
      ArrowLeft: -1,
      ArrowRight: 1,
      ArrowUp: -g.gridCols,
      ArrowDown: g.gridCols,
    };
    if (!(e.key in moves)) return;
    e.preventDefault();
    select(Math.min(data.chunks.length - 1, Math.max(0, cur + moves[e.key])));
  });
}

canvas.addEventListener("keydown", (e) => {
  const s = state.heatmap;
  if (!s) return;
  const step = e.shiftKey ? 16 : 1;
  const moves: Record<string, [number, number]> = {
    ArrowLeft: [0, -step],
    ArrowRight: [0, step],
    ArrowUp: [-step, 0],
    ArrowDown: [step, 0],
    PageUp: [-16, 0],
    PageDown: [16, 0],
  };
  if (e.key === "Home") cursor = { r: cursor.r, c: 0 };
  else if (e.key === "End") cursor = { r: cursor.r, c: s.cols - 1 };
  else if (e.key in moves) {
    const [dr, dc] = moves[e.key];
    cursor = {
      r: Math.min(s.rows - 1, Math.max(0, cursor.r + dr)),
      c: Math.min(s.cols - 1, Math.max(0, cursor.c + dc)),
    };
  } else return;
  e.preventDefault();
  showCursor();
});
const pointAt = (e: MouseEvent) => {
  const s = state.heatmap;
  if (!s) return;
  const box = canvas.getBoundingClientRect();
  cursor = {
    r: Math.min(s.rows - 1, Math.max(0, Math.floor(((e.clientY - box.top) / box.height) * s.rows))),
    c: Math.min(s.cols - 1, Math.max(0, Math.floor(((e.clientX - box.left) / box.width) * s.cols))),
  };
  showCursor();
};
canvas.addEventListener("mousemove", pointAt);
canvas.addEventListener("click", pointAt);
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  if (state.heatmap) draw(state.heatmap);
});

if (data.chunks.length > 0) select(data.tile);
