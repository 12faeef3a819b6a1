/**
 * Serving benchmark. Starts, as child processes, the Tessera server over a temporary models folder
 * and a minimal static `Deno.serve` handler (`bench/serve_static.ts`) serving the same original
 * file from disk; then a third process (`bench/serve_load.ts`) measures, for every file of
 * `../shared/data` (the goals are judged on the largest):
 * - full-file GET throughput of `/{org}/{name}/resolve/main/model.safetensors` against the raw
 *   file, median of `--runs` runs, on one connection and on `--parallel` connections;
 * - time to first byte, p50 and p99, of `--tiles` random tiles (`?rows=a:b&cols=c:d` of random
 *   2-D tensors), one request at a time.
 *
 * Writes `bench/results/serve-<YYYY-MM-DD>.json` and prints a table with the goals (throughput at
 * least 0.8x the raw server's, tile p50 at most 5 ms). Speeds are MB/s with MB = 10^6 bytes.
 *
 * ```
 * deno task bench:serve [--largest-only] [--runs N] [--parallel N] [--tiles N] [--data DIR] [--out FILE]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { type Index } from "../src/container/index_schema.ts";
import { packFile } from "../src/pack/write.ts";
import { dtypeWidth } from "../codec/dtype.ts";
import type { LoadPlan, LoadResult } from "./serve_load.ts";
import {
  type Child,
  spawnChild,
  stopAll,
  stopChild,
  timed,
  waitReady,
} from "./transfer/processes.ts";
import { median } from "./transfer/stats.ts";

const GOAL_RATIO = 0.8;
const GOAL_TILE_P50_MS = 5;
const ORG = "bench";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "largest-only": { type: "boolean", default: false },
    runs: { type: "string", default: "7" },
    parallel: { type: "string", default: "4" },
    tiles: { type: "string", default: "300" },
    data: { type: "string", default: new URL("../../shared/data/", import.meta.url).pathname },
    out: { type: "string" },
    seed: { type: "string", default: "1" },
  },
});
const runs = Math.max(5, Number(values.runs));
const parallel = Math.max(1, Number(values.parallel));
const tileCount = Math.max(200, Number(values.tiles));
const root = new URL("..", import.meta.url).pathname;

/** Starts `deno run -A ...args` in the repository, its output appended to `log`. */
function spawn(name: string, args: string[], log: string): Promise<Child> {
  return spawnChild(name, Deno.execPath(), ["run", "-A", ...args], log, root);
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Runs the load generator on `plan`, with a timeout. */
async function runLoad(plan: LoadPlan, dir: string, timeoutMs: number): Promise<LoadResult> {
  const planPath = `${dir}/plan.json`;
  await Deno.writeTextFile(planPath, JSON.stringify(plan));
  const out = await timed(Deno.execPath(), ["run", "-A", "bench/serve_load.ts", planPath], {
    cwd: root,
    timeoutMs,
  });
  if (out.code !== 0) throw new Error(`load generator failed (${out.code}):\n${out.stderr}`);
  return JSON.parse(out.stdout);
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** A small seeded PRNG (mulberry32), so tile choices repeat between runs. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * `count` random tiles of random 2-D tensors of `index`: a tensor is drawn with probability
 * proportional to its size (so tiles come from the big matrices a client slices, not from the
 * many tiny ones), then each bound uniformly.
 */
function randomTiles(
  base: string,
  id: string,
  index: Index,
  count: number,
  seed: number,
): LoadPlan["tiles"] {
  const rand = prng(seed);
  const matrices = index.tensors.filter((t) => t.shape.length === 2 && t.shape.every((d) => d > 1));
  if (matrices.length === 0) throw new Error(`${id} has no 2-D tensor to cut tiles from`);
  const cumulative: number[] = [];
  let total = 0;
  for (const t of matrices) cumulative.push(total += t.offsets[1] - t.offsets[0]);
  return Array.from({ length: count }, () => {
    const x = rand(total);
    const t = matrices[cumulative.findIndex((c) => c > x)];
    const [rows, cols] = t.shape;
    const r0 = rand(rows), r1 = r0 + 1 + rand(rows - r0);
    const c0 = rand(cols), c1 = c0 + 1 + rand(cols - c0);
    return {
      url: `${base}/v1/models/${id}/tensors/${
        encodeURIComponent(t.name)
      }?revision=main&rows=${r0}:${r1}&cols=${c0}:${c1}`,
      bytes: (r1 - r0) * (c1 - c0) * dtypeWidth(t.dtype),
    };
  });
}

/** Throughput of one server over one file, MB/s. */
interface Series {
  /** The first GET, before any cache is warm. */
  coldMBps: number;
  singleMBps: number[];
  parallelMBps: number[];
  medianSingle: number;
  medianParallel: number;
}

interface FileReport {
  file: string;
  size: number;
  containerSize: number;
  /** The server as `deno task serve` runs it (256 MiB decoded-chunk cache). */
  tessera: Series;
  /** The same server with `--cache-mb 0`: every byte decoded per request (largest file only). */
  tesseraNoCache?: Series;
  raw: Series;
  ratioSingle: number;
  ratioParallel: number;
  ratioNoCacheSingle?: number;
}

async function main(): Promise<number> {
  const files = [...Deno.readDirSync(values.data!)]
    .filter((e) => e.isFile && e.name.endsWith(".safetensors"))
    .map((e) => ({ name: e.name, path: `${values.data}/${e.name}` }))
    .map((f) => ({ ...f, size: Deno.statSync(f.path).size }))
    .sort((a, b) => b.size - a.size);
  if (files.length === 0) {
    console.error(`no .safetensors files in ${values.data}`);
    return 1;
  }
  const chosen = values["largest-only"] ? files.slice(0, 1) : files;
  const dir = await Deno.makeTempDir({ prefix: "tessera_serve_bench_" });
  const stop = () => {
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", stop);
  try {
    // One store per server: a store folder is locked by the server that opens it.
    const models = `${dir}/models`, modelsNoCache = `${dir}/models-nocache`;
    const indexes = new Map<string, Index>();
    const containerSizes = new Map<string, number>();
    for (const f of chosen) {
      const name = f.name.replace(/\.safetensors$/, "");
      await Deno.mkdir(`${models}/${ORG}/${name}/main`, { recursive: true });
      await Deno.mkdir(`${modelsNoCache}/${ORG}/${name}/main`, { recursive: true });
      const t0 = performance.now();
      const container = `${models}/${ORG}/${name}/main/model.tsr`;
      indexes.set(f.name, await packFile(f.path, container, { mode: "fast" }));
      containerSizes.set(name, (await Deno.stat(container)).size);
      await Deno.copyFile(container, `${modelsNoCache}/${ORG}/${name}/main/model.tsr`);
      console.error(`packed ${f.name} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const tport = freePort();
    const tessera = await spawn(
      "tessera",
      ["src/server_main.ts", "--models", models, "--port", String(tport), "--no-demo"],
      `${dir}/tessera.log`,
    );
    const tbase = `http://127.0.0.1:${tport}`;
    const nport = freePort();
    const nocache = await spawn(
      "tessera --cache-mb 0",
      [
        "src/server_main.ts",
        ...["--models", modelsNoCache, "--port", String(nport), "--no-demo", "--cache-mb", "0"],
      ],
      `${dir}/tessera-nocache.log`,
    );
    const nbase = `http://127.0.0.1:${nport}`;
    await waitReady(`${tbase}/healthz`, tessera);
    await waitReady(`${nbase}/healthz`, nocache);

    const reports: FileReport[] = [];
    let tiles: LoadResult["tiles"] = [];
    for (const [i, f] of chosen.entries()) {
      const name = f.name.replace(/\.safetensors$/, "");
      const rport = freePort();
      const raw = await spawn(
        `raw-${name}`,
        ["bench/serve_static.ts", "--file", f.path, "--port", String(rport)],
        `${dir}/raw.log`,
      );
      const rbase = `http://127.0.0.1:${rport}`;
      await waitReady(`${rbase}/`, raw);
      const plan: LoadPlan = {
        throughput: {
          targets: [
            {
              label: "tessera",
              url: `${tbase}/${ORG}/${name}/resolve/main/model.safetensors`,
              size: f.size,
            },
            { label: "raw", url: `${rbase}/`, size: f.size },
            ...(i === 0
              ? [{
                label: "nocache",
                url: `${nbase}/${ORG}/${name}/resolve/main/model.safetensors`,
                size: f.size,
              }]
              : []),
          ],
          runs,
          parallel,
        },
        tiles: i === 0
          ? randomTiles(
            tbase,
            `${ORG}/${name}`,
            indexes.get(f.name)!,
            tileCount + 20,
            Number(values.seed),
          )
          : [],
        tileWarmup: i === 0 ? 20 : 0,
        timeoutMs: 120_000,
      };
      console.error(`measuring ${f.name} (${runs} runs, ${parallel} parallel)…`);
      const result = await runLoad(plan, dir, 20 * 60_000);
      if (i === 0) tiles = result.tiles;
      const t = result.throughput.tessera, r = result.throughput.raw;
      const sum = (x: { cold: number; single: number[]; parallel: number[] }) => ({
        coldMBps: round(x.cold),
        singleMBps: x.single.map((v) => round(v)),
        parallelMBps: x.parallel.map((v) => round(v)),
        medianSingle: round(median(x.single)),
        medianParallel: round(median(x.parallel)),
      });
      reports.push({
        file: f.name,
        size: f.size,
        containerSize: containerSizes.get(name)!,
        tessera: sum(t),
        raw: sum(r),
        ratioSingle: round(median(t.single) / median(r.single), 3),
        ratioParallel: round(median(t.parallel) / median(r.parallel), 3),
        ...(i === 0
          ? {
            tesseraNoCache: sum(result.throughput.nocache),
            ratioNoCacheSingle: round(
              median(result.throughput.nocache.single) / median(r.single),
              3,
            ),
          }
          : {}),
      });
      await stopChild(raw);
    }

    const ttfb = tiles.map((x) => x.ttfbMs);
    const tileStats = {
      count: tiles.length,
      file: chosen[0].name,
      ttfbP50Ms: round(percentile(ttfb, 50), 3),
      ttfbP99Ms: round(percentile(ttfb, 99), 3),
      ttfbMeanMs: round(ttfb.reduce((a, b) => a + b, 0) / Math.max(1, ttfb.length), 3),
      totalP50Ms: round(percentile(tiles.map((x) => x.totalMs), 50), 3),
      bytesMedian: percentile(tiles.map((x) => x.bytes), 50),
    };
    const main = reports[0];
    const goals = {
      throughputSingle: {
        goal: `>= ${GOAL_RATIO}x raw`,
        value: main.ratioSingle,
        pass: main.ratioSingle >= GOAL_RATIO,
      },
      throughputParallel: {
        goal: `>= ${GOAL_RATIO}x raw`,
        value: main.ratioParallel,
        pass: main.ratioParallel >= GOAL_RATIO,
      },
      tileP50: {
        goal: `<= ${GOAL_TILE_P50_MS} ms`,
        value: tileStats.ttfbP50Ms,
        pass: tileStats.ttfbP50Ms <= GOAL_TILE_P50_MS,
      },
    };
    const date = new Date().toISOString().slice(0, 10);
    const report = {
      date,
      deno: Deno.version.deno,
      os: `${Deno.build.os}-${Deno.build.arch}`,
      cpus: navigator.hardwareConcurrency,
      runs,
      parallel,
      files: reports,
      tiles: tileStats,
      goals,
    };
    const out = values.out ?? `${root}bench/results/serve-${date}.json`;
    await Deno.mkdir(out.slice(0, out.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");

    const rows = [
      "| file | size | Tessera MB/s (1 conn) | raw MB/s (1 conn) | ratio | " +
      `Tessera MB/s (${parallel} conn) | raw MB/s (${parallel} conn) | ratio |`,
      "|---|---|---|---|---|---|---|---|",
      ...reports.map((r) =>
        `| ${r.file} | ${(r.size / 1e6).toFixed(1)} MB | ${r.tessera.medianSingle} | ` +
        `${r.raw.medianSingle} | ${r.ratioSingle} | ${r.tessera.medianParallel} | ` +
        `${r.raw.medianParallel} | ${r.ratioParallel} |`
      ),
      "",
      `| goal (${main.file}) | target | measured | result |`,
      "|---|---|---|---|",
      `| full-file throughput, 1 connection | ${goals.throughputSingle.goal} | ` +
      `${goals.throughputSingle.value}x | ${passFail(goals.throughputSingle.pass)} |`,
      `| full-file throughput, ${parallel} connections | ${goals.throughputParallel.goal} | ` +
      `${goals.throughputParallel.value}x | ${passFail(goals.throughputParallel.pass)} |`,
      `| tile time to first byte p50 (${tileStats.count} tiles) | ${goals.tileP50.goal} | ` +
      `${tileStats.ttfbP50Ms} ms | ${passFail(goals.tileP50.pass)} |`,
      `| tile time to first byte p99 | (reported) | ${tileStats.ttfbP99Ms} ms | |`,
      "",
      `${main.file}, first (cold-cache) GET: Tessera ${main.tessera.coldMBps} MB/s, raw ` +
      `${main.raw.coldMBps} MB/s; Tessera with --cache-mb 0: ` +
      `${main.tesseraNoCache?.medianSingle} MB/s (${main.ratioNoCacheSingle}x raw, 1 conn), ` +
      `${main.tesseraNoCache?.medianParallel} MB/s (${parallel} conn). Median tile ` +
      `${tileStats.bytesMedian} bytes.`,
    ];
    console.log(rows.join("\n"));
    console.log(`\nwrote ${out}`);
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    await stopAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function passFail(pass: boolean): string {
  return pass ? "pass" : "FAIL";
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

if (import.meta.main) Deno.exit(await main());
