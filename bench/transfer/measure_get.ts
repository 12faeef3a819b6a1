/**
 * Full-file GET of the virtual `model.safetensors` on loopback (no proxy): the Tessera server with
 * `--cache-mb 0` (cold: every byte decoded for the request) and with its default cache (warm: the
 * same URL fetched once before), against the static server's original file; at 1 connection and at
 * 4 at once. Each GET is a whole `curl` process writing to /dev/null; throughput is bytes of all
 * connections over the wall time from the first spawn to the last exit; medians of the repeats,
 * taken in turn. Also the servers' peak RSS over each series.
 * @module
 */
import { peakRssKiB, resetPeakRss, timed } from "./processes.ts";
import { maxOrNull, mbPerSec, median } from "./stats.ts";

/** The three targets. */
export type GetTarget = "static" | "cold" | "warm";

/** One target at one connection count. */
export interface GetSeries {
  /** MB/s of each repeat. */
  readonly runsMBps: number[];
  /** Median MB/s. */
  readonly medianMBps: number;
  /** Peak RSS of the server process tree over the series, KiB. */
  readonly serverPeakRssKiB: number | null;
  /** Set when a GET failed or returned the wrong number of bytes. */
  readonly error?: string;
}

/** One file's GET results: target -> connections -> series. */
export interface GetResult {
  /** File stem. */
  readonly stem: string;
  /** Size of the file. */
  readonly size: number;
  /** By target, then by connection count ("1", "4"). */
  readonly series: Record<GetTarget, Record<string, GetSeries>>;
}

/** URLs and server pids of the targets. */
export interface GetTargets {
  /** The URL of the file on each target. */
  readonly urls: Record<GetTarget, string>;
  /** The server process of each target. */
  readonly pids: Record<GetTarget, number>;
}

/** `conns` curl processes at once on `url`; returns MB/s, or an error. */
async function parallelGet(url: string, size: number, conns: number): Promise<number | string> {
  const t0 = performance.now();
  const runs = await Promise.all(
    Array.from(
      { length: conns },
      () =>
        timed("curl", ["-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}", url], {
          timeoutMs: 600_000,
        }),
    ),
  );
  const ms = performance.now() - t0;
  for (const r of runs) {
    if (r.code !== 0) return `curl exited ${r.code}: ${r.stderr.trim()}`;
    if (Number(r.stdout.trim()) !== size) return `${url}: ${r.stdout.trim()} bytes, not ${size}`;
  }
  return mbPerSec(size * conns, ms);
}

/** Measures `repeats` GETs of each target at 1 and 4 connections. */
export async function measureGet(
  stem: string,
  size: number,
  targets: GetTargets,
  repeats: number,
  connections: readonly number[] = [1, 4],
): Promise<GetResult> {
  const order: GetTarget[] = ["static", "cold", "warm"];
  // Warm the warm server's cache (and every server's code paths) once.
  for (const t of order) await parallelGet(targets.urls[t], size, 1);
  const acc: Record<string, { mbps: number[]; rss: (number | null)[]; error?: string }> = {};
  for (let r = 0; r < repeats; r++) {
    for (const conns of connections) {
      for (const t of order) {
        const key = `${t}/${conns}`;
        const a = acc[key] ??= { mbps: [], rss: [] };
        if (a.error) continue;
        await resetPeakRss(targets.pids[t]);
        const v = await parallelGet(targets.urls[t], size, conns);
        a.rss.push(await peakRssKiB(targets.pids[t]));
        if (typeof v === "string") a.error = v;
        else a.mbps.push(v);
      }
    }
  }
  const series = {} as Record<GetTarget, Record<string, GetSeries>>;
  for (const t of order) {
    series[t] = {};
    for (const conns of connections) {
      const a = acc[`${t}/${conns}`];
      series[t][String(conns)] = {
        runsMBps: a.mbps,
        medianMBps: median(a.mbps),
        serverPeakRssKiB: maxOrNull(a.rss),
        ...(a.error ? { error: a.error } : {}),
      };
    }
  }
  return { stem, size, series };
}
