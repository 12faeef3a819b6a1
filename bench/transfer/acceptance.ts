/**
 * The acceptance points of issue 8 that `bench:transfer` measures, as ratios from one run: each
 * line says what was compared, the value, the goal and whether it is met (null when a figure is
 * missing).
 * @module
 */
import type { BigResult } from "./measure_big.ts";
import type { GetResult } from "./measure_get.ts";
import type { TransferResult } from "./measure_transfer.ts";
import type { UnpackResult } from "./measure_unpack.ts";
import type { BenchFile } from "./inputs.ts";
import type { Profile } from "./profiles.ts";
import { median } from "./stats.ts";

/** One acceptance check. */
export interface Acceptance {
  /** Issue 8 acceptance point, e.g. `1 unpack`. */
  readonly point: string;
  /** What is compared, on which file and profile. */
  readonly what: string;
  /** The measured value. */
  readonly value: number | null;
  /** The goal, e.g. `>= 1`. */
  readonly goal: string;
  /** Met, not met, or null when not measured. */
  readonly pass: boolean | null;
}

const atLeast = (
  v: number | null,
  g: number,
) => (v === null || !Number.isFinite(v) ? null : v >= g);
const atMost = (v: number | null, g: number) => (v === null || !Number.isFinite(v) ? null : v <= g);

/** Everything the checks read. */
export interface AcceptanceInput {
  /** Files measured. */
  readonly files: readonly BenchFile[];
  /** Profiles measured. */
  readonly profiles: readonly Profile[];
  /** Unpack comparisons. */
  readonly unpack: readonly UnpackResult[];
  /** The big file, if run. */
  readonly big: BigResult | null;
  /** GET results. */
  readonly get: readonly GetResult[];
  /** Transfer results. */
  readonly transfer: readonly TransferResult[];
}

/** Median whole-process ms of the verified runs of `method` on `stem` and `profile`. */
export function transferMs(
  transfer: readonly TransferResult[],
  profile: string,
  stem: string,
  method: string,
): number | null {
  const r = transfer.find((t) => t.profile === profile && t.stem === stem && t.method === method);
  const ok = r?.runs.filter((x) => x.verified) ?? [];
  return ok.length ? median(ok.map((x) => x.ms)) : null;
}

/** Small files: the data files (not the synthetic model), where Deno's start-up dominates. */
const isSmall = (stem: string) => stem !== "many-tensor.bf16";

/** Computes every check that the run's figures allow. */
export function acceptance(input: AcceptanceInput): Acceptance[] {
  const out: Acceptance[] = [];
  const unpacks = [...input.unpack];
  if (input.big?.unpack) unpacks.push(input.big.unpack);
  for (const u of unpacks) {
    const fast = u.fast.verified ? u.fast.medianMs : null;
    const zstd = u.zstd?.verified ? u.zstd.medianMs : null;
    const ratio = fast && zstd ? zstd / fast : null;
    const goal = isSmall(u.stem) && u.stem !== "big-llama.bf16" ? 0.5 : 1;
    out.push({
      point: "1 unpack",
      what: `${u.stem}: zstd -d -T1 time / unpack (fast) time, whole processes`,
      value: ratio,
      goal: `>= ${goal}`,
      pass: atLeast(ratio, goal),
    });
    if (u.best) {
      const best = u.best.verified ? u.best.medianMs : null;
      const r = fast && best ? fast / best : null;
      out.push({
        point: "1 unpack",
        what: `${u.stem}: best unpack speed / fast unpack speed`,
        value: r,
        goal: ">= 0.6",
        pass: atLeast(r, 0.6),
      });
    }
  }
  const bigRss = input.big?.unpack?.fast.peakRssKiB ?? null;
  const smallRss = Math.max(0, ...input.unpack.map((u) => u.fast.peakRssKiB ?? 0));
  if (bigRss !== null && smallRss > 0) {
    out.push({
      point: "5 memory",
      what: `unpack peak RSS, ${((input.big?.size ?? 0) / 1e9).toFixed(1)} GB file / largest of ` +
        `the other files (${(bigRss / 1024).toFixed(0)} / ${(smallRss / 1024).toFixed(0)} MiB)`,
      value: bigRss / smallRss,
      goal: "<= 2 (bounded)",
      pass: atMost(bigRss / smallRss, 2),
    });
  }
  for (const g of input.get) {
    const cold = g.series.cold["1"]?.medianMBps ?? null;
    const stat = g.series.static["1"]?.medianMBps ?? null;
    out.push({
      point: "2 cold GET",
      what: `${g.stem}: cold (--cache-mb 0) full GET, 1 connection, GB/s (static: ${
        stat === null ? "-" : (stat / 1000).toFixed(2)
      } GB/s, ratio ${cold && stat ? (cold / stat).toFixed(2) : "-"})`,
      value: cold === null ? null : cold / 1000,
      goal: ">= 1 GB/s",
      pass: atLeast(cold === null ? null : cold / 1000, 1),
    });
  }
  for (const p of input.profiles) {
    for (const f of input.files) {
      const stat = transferMs(input.transfer, p.name, f.stem, "static");
      const dec = transferMs(input.transfer, p.name, f.stem, "decoded");
      const comp = transferMs(input.transfer, p.name, f.stem, "compressed");
      const ratio = f.size / f.fast.size;
      if (p.link) {
        const limit = stat === null ? null : (1.1 * stat) / ratio;
        out.push({
          point: "3 compressed pull",
          what: `${p.name} ${f.stem}: compressed pull time / (1.1 x static time / ratio ${
            ratio.toFixed(3)
          })`,
          value: comp !== null && limit !== null ? comp / limit : null,
          goal: "<= 1",
          pass: atMost(comp !== null && limit !== null ? comp / limit : null, 1),
        });
      } else {
        for (const [name, ms] of [["decoded", dec], ["compressed", comp]] as const) {
          const v = ms !== null && stat !== null ? stat / ms : null;
          out.push({
            point: "3 loopback pull",
            what: `${p.name} ${f.stem}: ${name} pull speed / curl of the original`,
            value: v,
            goal: ">= 0.5",
            pass: atLeast(v, 0.5),
          });
        }
      }
      const auto = input.transfer.find((t) =>
        t.profile === p.name && t.stem === f.stem && t.method === "auto"
      );
      const picked = auto?.runs.find((r) => r.transport)?.transport ?? null;
      if (dec !== null && comp !== null && picked) {
        const faster = comp <= dec ? "compressed" : "decoded";
        // Within 5% the two are a tie on this noisy machine: either pick is right.
        const tie = Math.abs(comp - dec) / Math.min(comp, dec) < 0.05;
        out.push({
          point: "3 auto",
          what: `${p.name} ${f.stem}: auto picked ${picked}; faster was ${faster} ` +
            `(decoded ${(dec / 1000).toFixed(2)} s, compressed ${(comp / 1000).toFixed(2)} s)`,
          value: picked === faster || tie ? 1 : 0,
          goal: "= 1",
          pass: picked === faster || tie,
        });
      }
      if (p.link && p.link.bitsPerSecond && p.link.bitsPerSecond <= 100e6) {
        const lm = input.transfer.find((t) =>
          t.profile === p.name && t.stem === f.stem && t.method === "loadModel"
        );
        const firsts = lm?.runs.filter((r) => r.verified && r.firstLayerInProcessMs !== undefined)
          .map((r) => r.firstLayerInProcessMs!) ?? [];
        const bound = 2 * p.link.rttMs +
          1.2 * (f.firstLayer.storedBytes * 8) / p.link.bitsPerSecond * 1000;
        const v = firsts.length ? median(firsts) / bound : null;
        out.push({
          point: "4 progressive load",
          what:
            `${p.name} ${f.stem}: loadModel first layer (${f.firstLayer.key}, ${f.firstLayer.storedBytes} B stored) / (2 RTT + 1.2 x bytes / bandwidth = ${
              bound.toFixed(0)
            } ms)`,
          value: v,
          goal: "<= 1",
          pass: atMost(v, 1),
        });
      }
    }
  }
  return out;
}
