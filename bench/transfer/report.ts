/**
 * The printed report of `bench:transfer`: one table per link profile (time to a verified file by
 * each method, requests, peak RSS), the unpack and GET tables, the proxy's timing check and the
 * acceptance lines of issue 8. Times are whole-process seconds, speeds MB/s (10^6 bytes).
 * @module
 */
import type { Acceptance } from "./acceptance.ts";
import { transferMs } from "./acceptance.ts";
import type { BenchFile } from "./inputs.ts";
import type { BigResult } from "./measure_big.ts";
import type { GetResult } from "./measure_get.ts";
import type { TransferResult } from "./measure_transfer.ts";
import type { UnpackResult } from "./measure_unpack.ts";
import type { Profile } from "./profiles.ts";
import type { ProxyCheck } from "./proxy_check.ts";
import { median } from "./stats.ts";

/** What the report prints. */
export interface ReportInput {
  /** Files measured. */
  readonly files: readonly BenchFile[];
  /** Profiles measured. */
  readonly profiles: readonly Profile[];
  /** Proxy timing checks. */
  readonly proxyChecks: readonly ProxyCheck[];
  /** Unpack comparisons. */
  readonly unpack: readonly UnpackResult[];
  /** The big file. */
  readonly big: BigResult | null;
  /** GETs. */
  readonly get: readonly GetResult[];
  /** Transfers. */
  readonly transfer: readonly TransferResult[];
  /** Acceptance lines. */
  readonly acceptance: readonly Acceptance[];
  /** Header lines (machine, load). */
  readonly header: readonly string[];
}

/** A plain-text table; columns after the first are right-aligned, except those in `left`. */
export function table(head: string[], rows: string[][], left: readonly number[] = [0]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, i) => (left.includes(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const sec = (
  ms: number | null | undefined,
) => (ms == null || !Number.isFinite(ms) ? "-" : (ms / 1000).toFixed(2));
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const mib = (kib: number | null | undefined) => (kib == null ? "-" : (kib / 1024).toFixed(0));
const fx = (
  v: number | null | undefined,
  d = 2,
) => (v == null || !Number.isFinite(v) ? "-" : v.toFixed(d));

function result(t: readonly TransferResult[], p: string, stem: string, m: string) {
  return t.find((x) => x.profile === p && x.stem === stem && x.method === m);
}

/** Median of a per-run number over the verified runs. */
function med(
  r: TransferResult | undefined,
  pick: (x: TransferResult["runs"][number]) => number | null | undefined,
) {
  const xs = (r?.runs ?? []).filter((x) => x.verified).map(pick).filter((x): x is number =>
    typeof x === "number"
  );
  return xs.length ? median(xs) : null;
}

function profileTables(input: ReportInput, p: Profile): string {
  const t = input.transfer;
  const rate = p.link?.bitsPerSecond ?? null;
  const timeRows = input.files.map((f) => {
    const cell = (m: string) => {
      const r = result(t, p.name, f.stem, m);
      if (!r) return "-";
      if (r.runs.some((x) => x.error)) return "FAIL";
      return sec(transferMs(t, p.name, f.stem, m));
    };
    const auto = result(t, p.name, f.stem, "auto");
    const picked = auto?.runs.find((x) => x.transport)?.transport;
    const lm = result(t, p.name, f.stem, "loadModel");
    const ideal = rate === null ? null : 2 * p.link!.rttMs + (f.size * 8) / rate * 1000;
    return [
      f.stem,
      mb(f.size),
      fx(f.size / f.fast.size, 3),
      sec(ideal),
      cell("static"),
      cell("decoded"),
      cell("compressed"),
      `${cell("auto")}${picked ? ` (${picked.slice(0, 4)})` : ""}`,
      lm?.runs.some((x) => x.error)
        ? "FAIL"
        : `${sec(med(lm, (x) => x.firstLayerInProcessMs))} / ${
          sec(med(lm, (x) => x.lastTensorInProcessMs))
        }`,
      `${sec(med(lm, (x) => x.firstLayerMs))} / ${sec(transferMs(t, p.name, f.stem, "loadModel"))}`,
    ];
  });
  const times = table(
    [
      "file",
      "MB",
      "ratio",
      "ideal s",
      "static s",
      "decoded s",
      "compr. s",
      "auto s",
      "loadModel in-proc 1st/last s",
      "whole-proc 1st/last s",
    ],
    timeRows,
  );
  const counterRows = input.files.map((f) => {
    const reqs = (m: string) => {
      const v = med(result(t, p.name, f.stem, m), (x) => x.proxy?.requests);
      return v === null ? "-" : v.toFixed(0);
    };
    const rss = (m: string, which: "client" | "server") =>
      mib(
        med(result(t, p.name, f.stem, m), (x) =>
          which === "client" ? x.clientPeakRssKiB : x.serverPeakRssKiB),
      );
    return [
      f.stem,
      String(f.tensors),
      reqs("static"),
      reqs("decoded"),
      reqs("compressed"),
      reqs("auto"),
      reqs("loadModel"),
      `${rss("decoded", "client")} / ${rss("decoded", "server")}`,
      `${rss("compressed", "client")} / ${rss("compressed", "server")}`,
      `${rss("loadModel", "client")} / ${rss("loadModel", "server")}`,
      rss("static", "server"),
      ["static", "decoded", "compressed", "loadModel"].map((m) =>
        sec(med(result(t, p.name, f.stem, m), (x) => x.clientCpuMs))
      ).join(" / "),
    ];
  });
  const counters = table(
    [
      "file",
      "tensors",
      "req static",
      "req decoded",
      "req compr.",
      "req auto",
      "req loadModel",
      "RSS MiB decoded c/s",
      "compr. c/s",
      "loadModel c/s",
      "static srv",
      "client CPU s static/dec./compr./load",
    ],
    counterRows,
  );
  return `## ${p.label}\n\n${times}\n\n${counters}`;
}

function unpackTable(input: ReportInput): string {
  const rows = [...input.unpack, ...(input.big?.unpack ? [input.big.unpack] : [])].map((u) => {
    const cell = (s: UnpackResult["fast"] | null) =>
      s === null
        ? "-"
        : s.error || !s.verified
        ? "FAIL"
        : `${sec(s.medianMs)} (${s.mbPerSec.toFixed(0)})`;
    const zf = u.zstd && u.fast.verified && u.zstd.verified
      ? u.zstd.medianMs / u.fast.medianMs
      : null;
    const bf = u.best && u.fast.verified && u.best.verified
      ? u.fast.medianMs / u.best.medianMs
      : null;
    return [
      u.stem,
      mb(u.size),
      cell(u.fast),
      cell(u.best),
      cell(u.zstd),
      fx(zf),
      fx(bf),
      `${mib(u.fast.peakRssKiB)} / ${mib(u.zstd?.peakRssKiB)}`,
    ];
  });
  return table(
    [
      "file",
      "MB",
      "unpack fast s (MB/s)",
      "unpack best s",
      "zstd -d -T1 s",
      "zstd/fast",
      "best/fast speed",
      "RSS MiB fast/zstd",
    ],
    rows,
  );
}

function getTable(input: ReportInput): string {
  const rows = input.get.map((g) => {
    const c = (t: "static" | "cold" | "warm", n: string) => {
      const s = g.series[t][n];
      return s?.error ? "FAIL" : fx(s?.medianMBps, 0);
    };
    const ratio = (n: string) => fx(g.series.cold[n]?.medianMBps / g.series.static[n]?.medianMBps);
    return [
      g.stem,
      mb(g.size),
      c("static", "1"),
      c("cold", "1"),
      c("warm", "1"),
      ratio("1"),
      c("static", "4"),
      c("cold", "4"),
      c("warm", "4"),
      ratio("4"),
      `${mib(g.series.cold["1"]?.serverPeakRssKiB)} / ${mib(g.series.warm["1"]?.serverPeakRssKiB)}`,
    ];
  });
  return table(
    [
      "file",
      "MB",
      "static 1c",
      "cold 1c",
      "warm 1c",
      "cold/static",
      "static 4c",
      "cold 4c",
      "warm 4c",
      "cold/static",
      "srv RSS MiB cold/warm",
    ],
    rows,
  );
}

function proxyTable(checks: readonly ProxyCheck[]): string {
  return table(
    [
      "profile",
      "1st byte, new conn. ms (expected)",
      "1st byte, reused ms (expected)",
      "bulk s (expected)",
      "bulk Mbit/s",
    ],
    checks.map((c) => [
      c.profile,
      `${c.newConnection.measuredMs.toFixed(1)} (${c.newConnection.expectedMs.toFixed(1)})`,
      `${c.reusedConnection.measuredMs.toFixed(1)} (${c.reusedConnection.expectedMs.toFixed(1)})`,
      `${sec(c.bulk.measuredMs)} (${sec(c.bulk.expectedMs)})`,
      c.bulk.mbitPerSec.toFixed(0),
    ]),
  );
}

/** The whole printed report. */
export function formatReport(input: ReportInput): string {
  const parts = [...input.header, ""];
  if (input.proxyChecks.length) {
    parts.push(
      "## Proxy timing check (measured against the link model)",
      "",
      proxyTable(input.proxyChecks),
      "",
    );
  }
  for (const p of input.profiles) {
    if (input.transfer.some((t) => t.profile === p.name)) parts.push(profileTables(input, p), "");
  }
  if (input.unpack.length || input.big?.unpack) {
    parts.push(
      "## unpack against zstd -d -T1 (whole processes, outputs on tmpfs)",
      "",
      unpackTable(input),
      "",
    );
  }
  if (input.big && !input.big.unpack) {
    parts.push(`2.2 GB file: ${input.big.skipped ?? input.big.error}`, "");
  }
  if (input.get.length) {
    parts.push("## Full-file GET of model.safetensors, loopback, MB/s", "", getTable(input), "");
  }
  parts.push("## Issue 8 acceptance (this run)", "");
  parts.push(
    table(
      ["point", "value", "goal", "met", "what"],
      input.acceptance.map((a) => [
        a.point,
        fx(a.value, 3),
        a.goal,
        a.pass === null ? "-" : a.pass ? "yes" : "NO",
        a.what,
      ]),
      [0, 4],
    ),
  );
  return parts.join("\n");
}
