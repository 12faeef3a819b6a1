/// <reference lib="dom" />
/**
 * The status page's script: reads `/metrics` every second and charts, over the last five
 * minutes, the rates between successive readings: requests, bytes out, cache hit ratio and
 * decode throughput.
 * @module
 */
import { formatBytes, formatCount, formatPercent, formatRate } from "../shared/format.ts";
import {
  parseExposition,
  ratesBetween,
  type ServerFigures,
  serverFigures,
} from "../shared/prometheus.ts";
import { type Chart, timeChart } from "./charts.ts";
import { byId } from "./dom.ts";

/** Milliseconds between readings. */
const POLL_MS = 1000;
/** Readings kept (five minutes). */
const KEEP = 300;

const series = {
  requests: {
    id: "chart-requests",
    label: "requests/s",
    colour: "--stored",
    format: (v: number) => v.toFixed(v < 10 ? 1 : 0),
  },
  bytes: {
    id: "chart-bytes",
    label: "bytes/s",
    colour: "--saved",
    format: (v: number) => formatRate(v),
  },
  cache: {
    id: "chart-cache",
    label: "hit ratio",
    colour: "--ratio",
    format: (v: number) => `${(v * 100).toFixed(0)}%`,
    range: [0, 1] as [number, number],
  },
  decode: {
    id: "chart-decode",
    label: "decoded/s",
    colour: "--accent",
    format: (v: number) => formatRate(v),
  },
};
type Key = keyof typeof series;

const charts = {} as Record<Key, Chart>;
for (const k of Object.keys(series) as Key[]) {
  const s = series[k];
  charts[k] = timeChart(byId(s.id), {
    label: s.label,
    colour: s.colour,
    format: s.format,
    range: "range" in s ? s.range : undefined,
  });
}
const times: number[] = [];
const values: Record<Key, (number | null)[]> = { requests: [], bytes: [], cache: [], decode: [] };
let last: { at: number; figures: ServerFigures } | null = null;
const state = byId("poll-state");

async function poll() {
  try {
    const res = await fetch("/metrics", { cache: "no-store" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const figures = serverFigures(parseExposition(await res.text()));
    const at = performance.now();
    if (last) {
      const r = ratesBetween(last.figures, figures, (at - last.at) / 1000);
      times.push(Date.now() / 1000);
      values.requests.push(r.requestsPerSecond);
      values.bytes.push(r.bytesOutPerSecond);
      values.cache.push(r.cacheHitRatio);
      values.decode.push(r.decodeBytesPerSecond);
      if (times.length > KEEP) {
        times.shift();
        for (const k of Object.keys(values) as Key[]) values[k].shift();
      }
      for (const k of Object.keys(series) as Key[]) {
        charts[k].setData([times, values[k]]);
        const v = values[k][values[k].length - 1];
        byId(`${series[k].id}-now`).textContent = `now: ${
          v === null ? "no lookups" : series[k].format(v)
        }`;
      }
    }
    last = { at, figures };
    const lookups = figures.cacheHits + figures.cacheMisses;
    byId("total-requests").textContent = formatCount(figures.requests);
    byId("total-bytes").textContent = formatBytes(figures.bytesOut);
    byId("total-cache").textContent = lookups > 0 ? formatPercent(figures.cacheHits, lookups) : "-";
    byId("total-decoded").textContent = formatBytes(figures.decodeBytes);
    state.textContent = "";
  } catch (e) {
    state.textContent = `Reading /metrics failed (${(e as Error).message}); retrying.`;
  }
}

await poll();
setInterval(poll, POLL_MS);
