/**
 * Whole-process `unpack` (of the `fast` and `best` containers) against whole-process
 * `zstd -d -T1` of the file's `zstd -3` output, each writing its output to tmpfs, taken in turn
 * run by run so that load on the shared machine touches all alike; medians. The first run of each
 * is checked against the original's SHA-256, every run against its size. zstd writes with `-o`
 * to a file, as unpack does (bench/zstd_command.ts sends it to /dev/null, which skips the write).
 * @module
 */
import { fileSha256 } from "./file_sha256.ts";
import { cli } from "./inputs.ts";
import { timed } from "./processes.ts";
import { maxOrNull, mbPerSec, median } from "./stats.ts";

/** Runs of one command on one file. */
export interface Series {
  /** Wall time of each run, ms. */
  readonly runsMs: number[];
  /** Median wall time, ms. */
  readonly medianMs: number;
  /** Original bytes per second at the median, MB/s. */
  readonly mbPerSec: number;
  /** Largest peak RSS over the runs, KiB. */
  readonly peakRssKiB: number | null;
  /** The output matched the original's SHA-256 (first run) and size (every run). */
  readonly verified: boolean;
  /** The failure, if any run failed. */
  readonly error?: string;
}

/** One file's unpack comparison. */
export interface UnpackResult {
  /** File stem. */
  readonly stem: string;
  /** Original size. */
  readonly size: number;
  /** `unpack` of the fast container. */
  readonly fast: Series;
  /** `unpack` of the best container. */
  readonly best: Series | null;
  /** `zstd -d -T1` of the zstd -3 file. */
  readonly zstd: Series | null;
}

/** What to unpack. */
export interface UnpackInput {
  /** Name for the report. */
  readonly stem: string;
  /** Original size and SHA-256. */
  readonly size: number;
  /** SHA-256 of the original. */
  readonly sha256: string;
  /** The fast container. */
  readonly fast: string;
  /** The best container, if any. */
  readonly best: string | null;
  /** The zstd -3 file, if any. */
  readonly zstd: string | null;
}

type Kind = "fast" | "best" | "zstd";

/** Times `repeats` runs of each command on `input`, alternating, outputs under `outDir`. */
export async function measureUnpack(
  input: UnpackInput,
  o: { repo: string; outDir: string; repeats: number; timeoutMs: number },
): Promise<UnpackResult> {
  const kinds: Kind[] = ["fast"];
  if (input.zstd) kinds.push("zstd");
  if (input.best) kinds.push("best");
  const runs: Record<Kind, { ms: number[]; rss: (number | null)[]; ok: boolean; error?: string }> =
    {
      fast: { ms: [], rss: [], ok: true },
      best: { ms: [], rss: [], ok: true },
      zstd: { ms: [], rss: [], ok: true },
    };
  for (let r = 0; r < o.repeats; r++) {
    for (const kind of kinds) {
      const rec = runs[kind];
      if (rec.error) continue;
      const out = `${o.outDir}/${input.stem}.${kind}.out`;
      await Deno.remove(out).catch(() => {});
      const [cmd, args] = kind === "zstd"
        ? ["zstd", ["-d", "-T1", "-q", "-f", input.zstd!, "-o", out]] as [string, string[]]
        : cli(o.repo, "unpack", kind === "fast" ? input.fast : input.best!, out);
      const t = await timed(cmd, args, { cwd: o.repo, timeoutMs: o.timeoutMs });
      if (t.code !== 0) {
        rec.ok = false;
        rec.error = `${kind} exited ${t.code}: ${t.stderr.trim().slice(-400)}`;
      } else {
        const size = (await Deno.stat(out)).size;
        if (size !== input.size) rec.ok = false;
        if (r === 0 && (await fileSha256(out)) !== input.sha256) rec.ok = false;
        rec.ms.push(t.ms);
        rec.rss.push(t.peakRssKiB);
      }
      await Deno.remove(out).catch(() => {});
    }
  }
  const series = (kind: Kind): Series => {
    const rec = runs[kind];
    const m = median(rec.ms);
    return {
      runsMs: rec.ms,
      medianMs: m,
      mbPerSec: mbPerSec(input.size, m),
      peakRssKiB: maxOrNull(rec.rss),
      verified: rec.ok && rec.ms.length > 0,
      ...(rec.error ? { error: rec.error } : {}),
    };
  };
  return {
    stem: input.stem,
    size: input.size,
    fast: series("fast"),
    best: input.best ? series("best") : null,
    zstd: input.zstd ? series("zstd") : null,
  };
}
