/**
 * Lossy variants, measured end to end (`deno task bench:variants`):
 * - the ATD anchor: a 4096 × 4096 Gaussian, ternary N = 1…4, size as a share of FP16 and RMSE
 *   relative to N = 1, and the two trit packings;
 * - dequantisation speed of int8 and ternary:3, per CPU second of one thread, with baselines
 *   measured in the same run;
 * - stories260k: per variant, the variant-only container's size against the BF16 file, mean
 *   KL(FP32 ‖ variant) and top-1 agreement over sequences sampled from FP32, per-tensor relative
 *   RMSE; `auto` at several budgets, each checked for domination by the single variants;
 * - every shared file: per-tensor relative RMSE and size per variant;
 * - serving: whole tensors and tiles of a variant through the real server against the original's
 *   (`serving`; `--skip` the rest to run it alone).
 *
 * Writes `bench/results/variants-<YYYY-MM-DD>.json` and prints the tables.
 *
 * ```
 * deno task bench:variants [--data DIR] [--out FILE] [--atd N] [--speed N] [--sequences N]
 *   [--length N] [--files a,b] [--skip atd,speed,stories,shared,serving] [--serve N]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { dataDir } from "./variants/data_dir.ts";
import { atdAnchor, dequantSpeed, sharedFiles, storiesQuality } from "./variants/sections.ts";
import { servingSpeed } from "./variants/serving.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    data: { type: "string", default: dataDir() },
    out: { type: "string" },
    atd: { type: "string", default: "4096" },
    speed: { type: "string", default: "2048" },
    runs: { type: "string", default: "5" },
    sequences: { type: "string", default: "16" },
    length: { type: "string", default: "128" },
    files: { type: "string" },
    skip: { type: "string", default: "" },
    serve: { type: "string", default: "2048" },
  },
});
const data = values.data.endsWith("/") ? values.data : `${values.data}/`;
const skip = new Set(values.skip.split(",").filter(Boolean));
const files = values.files?.split(",") ??
  [...Deno.readDirSync(data)].map((e) => e.name).filter((n) => n.endsWith(".safetensors")).sort();
const work = await Deno.makeTempDir({ prefix: "tessera_variants_bench_" });
const started = performance.now();
try {
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    cores: navigator.hardwareConcurrency,
    loadAverage: Deno.loadavg(),
  };
  if (!skip.has("atd")) result.atd = atdAnchor(Number(values.atd));
  if (!skip.has("speed")) result.speed = dequantSpeed(Number(values.speed), Number(values.runs));
  if (!skip.has("stories")) {
    result.stories = await storiesQuality(data, work, {
      sequences: Number(values.sequences),
      length: Number(values.length),
      rmseBudgets: [0.005, 0.01, 0.02, 0.05],
      klBudgets: [0.002, 0.01, 0.05, 0.2, 1],
    });
  }
  if (!skip.has("shared")) result.shared = await sharedFiles(data, work, files);
  if (!skip.has("serving")) {
    result.serving = await servingSpeed(work, {
      n: Number(values.serve),
      count: 2,
      runs: Number(values.runs),
      tiles: 16,
      workers: 2,
    });
  }
  result.seconds = (performance.now() - started) / 1000;
  result.loadAverageAfter = Deno.loadavg();
  const date = new Date().toISOString().slice(0, 10);
  const out = values.out ?? new URL(`results/variants-${date}.json`, import.meta.url).pathname;
  // Compact: the per-tensor rows of the shared files are most of it.
  await Deno.writeTextFile(out, JSON.stringify(result) + "\n");
  console.log(`\nwrote ${out} in ${(result.seconds as number).toFixed(0)} s`);
} finally {
  await Deno.remove(work, { recursive: true });
}
