/**
 * The bench's markdown report.
 * @module
 */
import { MB, MIB, MODES } from "./config.ts";
import type { BigResult } from "./big_file.ts";
import { BIG_SOURCE } from "./big_file.ts";
import type { FileResult, Flag } from "./flags.ts";
import type { machineInfo } from "./machine.ts";
import type { Options } from "./options.ts";
import type { BaselineResult } from "./peers.ts";
import type { DecodeResult, PackResult } from "./measure.ts";

export const fx = (v: number | null | undefined, d: number) =>
  v == null || !Number.isFinite(v) ? "—" : v.toFixed(d);
export const mib = (v: number | null | undefined) => (v == null ? "—" : (v / MIB).toFixed(0));
export const mbps = (v: number | null | undefined) =>
  v == null || !Number.isFinite(v) ? "—" : v >= 100 ? v.toFixed(0) : v.toFixed(1);

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)]
    .join("\n");
}

export function baselineCell(
  b: BaselineResult | undefined,
  pick: (b: BaselineResult) => string,
): string {
  if (!b) return "—";
  if (b.skipped) return b.available ? "skip" : "missing";
  if (b.error) return "FAIL";
  return pick(b);
}

export function flagCell(f: Flag, d: number): string {
  if (f.pass === null) return "n/a";
  return `${f.pass ? "PASS" : "FAIL"} ${fx(f.value, d)} vs ${fx(f.threshold, d)}`;
}

export function report(
  results: FileResult[],
  big: BigResult | null,
  machine: unknown,
  opts: Options,
) {
  const m = machine as Awaited<ReturnType<typeof machineInfo>>;
  const out: string[] = [];
  out.push(`# Tessera codec bench, ${new Date().toISOString()}`);
  out.push("");
  out.push(
    `${m.cpu ?? "unknown cpu"}, ${m.nproc} cores, Deno ${m.deno}, load ${
      m.loadavgStart.map((x) => x.toFixed(2)).join(" ")
    } at start. MB = 10^6 bytes; decode figures are medians of ${opts.runs} runs (more for small files, at least 50 MB of output).`,
  );
  out.push(
    `Code: commit ${m.gitCommit?.slice(0, 10) ?? "?"}${
      m.gitDirty?.length ? ` + ${m.gitDirty.length} uncommitted path(s) in codec/ src/` : ""
    }; workers ran ${
      m.codeSnapshot
        ? `a snapshot taken at start (sha256 ${m.codeSnapshot.sourceSha256.slice(0, 12)})`
        : "the live tree"
    }.`,
  );
  out.push("");
  out.push("## Ratios (original / compressed); peer columns are the fixed table from the issue");
  out.push("");
  const by = (f: FileResult, t: string) => f.baselines.find((b) => b.tool === t);
  out.push(table(
    [
      "file",
      "MB",
      "fast",
      "best",
      "order-0 bound",
      "context bound",
      "zstd -3",
      "zstd -19",
      "bzip2 -9",
      "xz -6",
      "peer zstd -3",
      "peer bzip2 -9",
      "peer xz -6",
      "ZipNN file",
      "ZipNN tensor",
      "target best",
    ],
    results.map((f) => [
      f.name,
      fx(f.sizeBytes / MB, 1),
      f.modes.fast.pack.ok ? fx(f.modes.fast.pack.ratio, 3) : "FAIL",
      f.modes.best.pack.ok ? fx(f.modes.best.pack.ratio, 3) : "FAIL",
      fx(f.bound?.ratio, 3),
      fx(f.bound?.contextRatio, 3),
      ...["zstd -3", "zstd -19", "bzip2 -9", "xz -6"].map((t) =>
        baselineCell(by(f, t), (b) => fx(b.ratio, 3))
      ),
      fx(f.peer?.zstd3, 3),
      fx(f.peer?.bzip2_9, 3),
      fx(f.peer?.xz6, 3),
      fx(f.peer?.zipnnFile, 3),
      fx(f.peer?.zipnnPerTensor, 3),
      fx(f.peer?.targetBest, 3),
    ]),
  ));
  out.push("");
  out.push(
    "order-0 bound: per-chunk order-0 entropy of every byte plane (256 KiB chunks, tiled and split " +
      "as the codec does) plus the original header as stored (zstd -19). It bounds order-0 " +
      "coders only: a zstd-coded plane with repeats can beat it, and neither bound counts the " +
      "container's index, chunk tables and alignment. context bound: the same with per-chunk " +
      "conditional entropies (exponent given the previous exponent, sign and mantissa given the " +
      "exponent; for other bytes the high nibble given the previous one and the low nibble given " +
      "the high; qweight nibbles given the previous nibble), fitted to each chunk, so optimistic " +
      "for small chunks (bench/bounds.ts).",
  );
  const packed = results.filter((f) => f.bound?.qweight);
  if (packed.length) {
    out.push("");
    out.push(table(
      ["file", "qweight MB", "qweight best ratio", "nibble order-0 bound", "best / bound"],
      packed.map((f) => {
        const q = f.bound!.qweight!, r = f.modes.best.pack.qweightRatio;
        return [
          f.name,
          fx(q.rawBytes / MB, 2),
          fx(r, 3),
          fx(q.ratio, 3),
          r ? `${fx((100 * r) / q.ratio, 1)}%` : "—",
        ];
      }),
    ));
  }
  out.push("");
  out.push("## Speed, MB/s (pack/compress once; decode = median)");
  out.push("");
  out.push(table(
    [
      "file",
      "fast pack",
      "fast dec",
      "fast dec stream",
      "fast dec cold",
      "best pack",
      "best dec",
      "best dec stream",
      "best dec cold",
      "zstd -d in turn",
      "zstd -3 c/d",
      "zstd -19 c/d",
      "bzip2 -9 c/d",
      "xz -6 c/d",
      "zstd -b3 -T1 c/d",
    ],
    results.map((f) => {
      const cells: string[] = [f.name];
      for (const mode of MODES) {
        const { pack, decode } = f.modes[mode];
        cells.push(pack.ok ? mbps(pack.mbps) : "FAIL");
        cells.push(decode?.ok ? mbps(decode.mbps) : decode ? "FAIL" : "—");
        cells.push(decode?.ok ? mbps(decode.streamMbps) : "—");
        cells.push(decode?.ok ? mbps(decode.coldMbps) : "—");
      }
      const paired = f.modes.fast.decode?.pairedZstdMbps;
      cells.push(paired === undefined ? "—" : mbps(paired));
      for (const t of ["zstd -3", "zstd -19", "bzip2 -9", "xz -6"]) {
        cells.push(
          baselineCell(by(f, t), (b) => `${mbps(b.compressMbps)} / ${mbps(b.decompressMbps)}`),
        );
      }
      const zb = f.zstdBench;
      cells.push(
        zb.skipped
          ? (zb.available ? "skip" : "missing")
          : zb.error
          ? "FAIL"
          : `${mbps(zb.compressMbps)} / ${mbps(zb.decompressMbps)}`,
      );
      return cells;
    }),
  ));
  out.push("");
  out.push(
    "dec: open the container held in memory (index SHA-256 + parse) and stream the whole " +
      "original, checking the header SHA-256 and the decoded XXH32 of every chunk (as unpack and the server do), one thread; " +
      `median of ${opts.runs} runs (more for small files: at least 50 MB of output) after ${
        opts.warmupMs > 0 ? `an untimed warm-up (>= 2 runs, >= ${opts.warmupMs} ms)` : "no warm-up"
      }. dec stream: the same without the open. dec cold: the first decode in a fresh ` +
      "process (JIT cold). zstd -d in turn: zstd -d -T1 of the zstd -3 file run after each " +
      "timed fast decode, in the same stretch of time, median; the fast decode flag compares " +
      "with it. System tools: process wall time, output to /dev/null, median of " +
      `${opts.runs}. zstd -b3 -T1: zstd's own in-memory benchmark.`,
  );
  out.push("");
  out.push("## Peak RSS, MiB (VmHWM of the child process)");
  out.push("");
  out.push(table(
    ["file", "fast pack", "fast decode", "best pack", "best decode"],
    results.map((f) => [
      f.name,
      ...MODES.flatMap((mode) => {
        const { pack, decode } = f.modes[mode];
        return [
          pack.ok ? mib(pack.peakRssBytes) : "FAIL",
          decode?.ok ? mib(decode.peakRssBytes) : "—",
        ];
      }),
    ]),
  ));
  out.push("");
  out.push("Decode RSS includes the whole container held in memory.");
  out.push("");
  out.push("## Pass/fail");
  const flagTable = (kinds: string[], columns: [string, string, number][]) => {
    const rows = results.filter((f) => kinds.includes(f.kind));
    if (rows.length === 0) return;
    out.push("");
    out.push(table(
      ["file", ...columns.map(([head]) => head)],
      rows.map((f) => [
        f.name,
        ...columns.map(([, key, d]) => f.flags[key] ? flagCell(f.flags[key], d) : "—"),
      ]),
    ));
  };
  flagTable(["float"], [
    ["best ratio > target", "bestRatioAboveTarget", 3],
    ["fast ratio >= 0.98 ZipNN file", "fastRatioVsZipnn", 3],
    ["fast dec >= zstd -d -T1", "fastDecodeVsZstd", 0],
    ["best dec >= 250 MB/s", "bestDecode250", 0],
    ["best >= before (2026-11-25)", "bestAbovePrevious", 4],
    ["best >= 98.5% context bound", "bestVsContextBound", 3],
  ]);
  flagTable(["fp8", "int8"], [
    ["best > xz -6, zstd -19, bzip2 -9", "bestAbovePeers", 3],
    ["best >= 0.99 order-0 bound", "bestVsOrder0", 3],
    ["fast >= 0.97 best", "fastVsBest", 3],
    ["fast dec >= zstd -d -T1", "fastDecodeVsZstd", 0],
    ["best dec >= 250 MB/s", "bestDecode250", 0],
  ]);
  flagTable(["int4"], [
    ["best > every peer", "bestAbovePeers", 3],
    ["qweight >= 0.98 nibble bound", "qweightVsNibbleBound", 3],
    ["best dec >= 250 MB/s", "bestDecode250", 0],
  ]);
  const legacy = ["bestRatioAboveTarget", "fastRatioVsZipnn", "fastDecodeVsZstd", "bestDecode250"];
  let legacyPass = 0, legacyAll = 0;
  for (const f of results.filter((f) => f.kind === "float")) {
    for (const key of legacy) {
      if (!f.flags[key]) continue;
      legacyAll++;
      if (f.flags[key].pass) legacyPass++;
    }
  }
  out.push("");
  out.push(
    `The flags of earlier runs (float files, first four columns): ${legacyPass} of ${legacyAll} pass.`,
  );
  const counts = { pass: 0, fail: 0, na: 0 };
  for (const f of results) {
    for (const fl of Object.values(f.flags)) {
      if (fl.pass === true) counts.pass++;
      else if (fl.pass === false) counts.fail++;
      else counts.na++;
    }
  }
  out.push("");
  out.push(`Flags: ${counts.pass} pass, ${counts.fail} fail, ${counts.na} n/a.`);
  const problems: string[] = [];
  for (const f of results) {
    for (const mode of MODES) {
      const { pack, decode } = f.modes[mode];
      if (!pack.ok) problems.push(`${f.name} ${mode} pack: ${pack.error}`);
      if (decode && !decode.ok) problems.push(`${f.name} ${mode} decode: ${decode.error}`);
    }
    for (const b of f.baselines) {
      if (b.error) problems.push(`${f.name} ${b.tool}: ${b.error}`);
      if (b.skipped) problems.push(`${f.name} ${b.tool}: skipped (${b.skipped})`);
    }
    if (f.zstdBench.error) problems.push(`${f.name} zstd -b3: ${f.zstdBench.error}`);
    if (f.zstdBench.skipped) problems.push(`${f.name} zstd -b3: skipped (${f.zstdBench.skipped})`);
    if (f.boundError) problems.push(`${f.name} bound: ${f.boundError}`);
    for (const fl of Object.values(f.flags)) {
      if (fl.pass === null && fl.note) problems.push(`${f.name} flag "${fl.rule}": ${fl.note}`);
    }
  }
  if (problems.length) {
    out.push("");
    out.push("Failures and skips:");
    for (const p of problems) out.push(`- ${p}`);
  }
  out.push("");
  out.push("## Large file (> 2 GB, fast mode)");
  out.push("");
  if (!big) out.push("Not run.");
  else if (big.skipped) out.push(`Skipped: ${big.skipped}.`);
  else {
    if (big.error) out.push(`Error: ${big.error}`);
    out.push(
      `Synthetic ${BIG_SOURCE} x ${big.layers ?? "?"} layers: ${
        fx((big.sizeBytes ?? 0) / 1e9, 2)
      } GB, ` +
        `${big.tensors ?? "?"} tensors, ${fx((big.headerBytes ?? 0) / MB, 1)} MB header; ` +
        `${big.tensorSelection ?? ""}.`,
    );
    out.push("");
    const ref = big.reference;
    const rows: string[][] = [];
    const add = (label: string, size: number | undefined, p?: PackResult, d?: DecodeResult) =>
      rows.push([
        label,
        fx((size ?? NaN) / MB, 1),
        p?.ok ? fx(p.ratio, 3) : "FAIL",
        p?.ok ? mbps(p.mbps) : "FAIL",
        p?.ok ? mib(p.peakRssBytes) : "—",
        d?.ok ? mbps(d.mbps) : "FAIL",
        d?.ok ? mib(d.peakRssBytes) : "—",
        d?.ok ? mib(d.rssAfterOpenBytes) : "—",
      ]);
    if (ref) add(`${BIG_SOURCE} (reference)`, ref.sizeBytes, ref.pack, ref.decode);
    add("synthetic", big.sizeBytes, big.pack, big.decode);
    out.push(table(
      [
        "file",
        "MB",
        "ratio",
        "pack MB/s",
        "pack RSS MiB",
        "disk decode MB/s",
        "decode RSS MiB",
        "RSS after open MiB",
      ],
      rows,
    ));
    out.push("");
    out.push(
      `Peak RSS synthetic / reference: pack x${fx(big.rssGrowth?.pack, 2)}, decode x${
        fx(big.rssGrowth?.decode, 2)
      } for x${fx((big.sizeBytes ?? NaN) / (ref?.sizeBytes ?? NaN), 0)} the bytes. ` +
        "Both decodes stream from disk (openFileReader); the reference after a warm-up, the " +
        "synthetic file once, cold. RSS after open: right after openContainer (parsed index), " +
        "before any chunk is decoded.",
    );
    const over = (tl?: number[][]) => {
      if (!tl || tl.length < 2) return "—";
      const end = tl[tl.length - 1][0];
      return [0.1, 0.25, 0.5, 0.75, 0.9].map((q) => {
        const p = tl.find(([t]) => t >= q * end) ?? tl[tl.length - 1];
        return mib(p[1]);
      }).join(" / ");
    };
    out.push("");
    out.push(
      `Synthetic RSS (MiB, sampled) at 10 / 25 / 50 / 75 / 90% of the run: pack ${
        over(big.pack?.rssTimeline)
      }; decode ${over(big.decode?.rssTimeline)}.`,
    );
    const working = (d?: DecodeResult) =>
      d?.ok && d.peakRssBytes != null && d.rssAfterOpenBytes != null
        ? mib(d.peakRssBytes - d.rssAfterOpenBytes)
        : "—";
    out.push(
      `Decode peak minus RSS after open (streaming working set): reference ${
        working(ref?.decode)
      } MiB, synthetic ${working(big.decode)} MiB. RSS after open (parsed index): reference ${
        mib(ref?.decode.rssAfterOpenBytes)
      } MiB for ${ref?.tensors ?? "?"} tensors, synthetic ${
        mib(big.decode?.rssAfterOpenBytes)
      } MiB for ${big.tensors ?? "?"} tensors.`,
    );
    for (const [what, r] of [["pack", big.pack], ["decode", big.decode]] as const) {
      if (r && !r.ok) out.push(`- ${what} failed: ${r.error}`);
    }
  }
  return out.join("\n");
}
