/**
 * `/status`: live charts of request rate, bytes out, cache hit ratio and decode throughput, which
 * the page script computes from successive readings of `/metrics`. Without JavaScript the page
 * shows the totals since start, as read when it was rendered.
 * @module
 */
import type { ServerFigures } from "../shared/prometheus.ts";
import { formatBytes, formatCount, formatPercent, formatRate } from "../shared/format.ts";
import { Facts, Layout, type PageAssets } from "./layout.tsx";

/** Properties of {@link StatusView}. */
export interface StatusProps {
  /** Asset URLs. */
  readonly assets: PageAssets;
  /** The totals when the page was rendered. */
  readonly figures: ServerFigures;
  /** Seconds since the server started. */
  readonly uptimeSeconds: number;
  /** Open containers and decode workers. */
  readonly openContainers: number;
  /** Decode workers. */
  readonly workers: number;
}

/** The charts, their ids and what they plot. */
export const STATUS_CHARTS = [
  { id: "chart-requests", title: "Requests per second" },
  { id: "chart-bytes", title: "Bytes out per second" },
  { id: "chart-cache", title: "Cache hit ratio (per interval)" },
  { id: "chart-decode", title: "Decode throughput (raw bytes per second, all threads)" },
] as const;

/** The status page. */
export function StatusView(p: StatusProps) {
  const f = p.figures;
  const lookups = f.cacheHits + f.cacheMisses;
  return (
    <Layout title="Status · Tessera" assets={p.assets} current="status">
      <h1>Server status</h1>
      <Facts
        label="Totals since start"
        items={[
          [
            "Uptime",
            `${Math.floor(p.uptimeSeconds / 3600)} h ${Math.floor(p.uptimeSeconds / 60) % 60} min`,
          ],
          ["Requests", <span key="requests" id="total-requests">{formatCount(f.requests)}</span>],
          ["Bytes out", <span key="bytes" id="total-bytes">{formatBytes(f.bytesOut)}</span>],
          [
            "Cache hits",
            <span key="cache" id="total-cache">
              {lookups > 0 ? formatPercent(f.cacheHits, lookups) : "-"}
            </span>,
          ],
          ["Cache held", `${formatBytes(f.cacheBytes)} of ${formatBytes(f.cacheBudget)}`],
          ["Decoded", <span key="decoded" id="total-decoded">{formatBytes(f.decodeBytes)}</span>],
          [
            "Decode speed per thread",
            f.decodeSeconds > 0 ? formatRate(f.decodeBytes / f.decodeSeconds) : "-",
          ],
          ["Open containers", formatCount(p.openContainers)],
          ["Decode workers", formatCount(p.workers)],
        ]}
      />
      <p class="muted">
        Polled from <a href="/metrics">/metrics</a>{" "}
        every second; the charts keep the last five minutes.{" "}
        <span id="poll-state" role="status" aria-live="polite"></span>
      </p>
      <div class="grid2">
        {STATUS_CHARTS.map((c) => (
          <figure class="card">
            <figcaption id={`${c.id}-caption`}>{c.title}</figcaption>
            <div class="chart" id={c.id} role="img" aria-labelledby={`${c.id}-caption`}></div>
            <p class="readout" id={`${c.id}-now`} aria-live="off"></p>
          </figure>
        ))}
      </div>
    </Layout>
  );
}
