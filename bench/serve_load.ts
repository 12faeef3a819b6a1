/**
 * The load generator of `bench/serve_bench.ts`, run as its own process so that the servers and
 * the client do not share an event loop. Reads a plan (JSON file) and prints results as JSON.
 *
 * ```
 * deno run -A bench/serve_load.ts plan.json
 * ```
 * @module
 */

/** What to measure. */
export interface LoadPlan {
  /** Full-file GETs: each target is fetched `runs` times, alternating targets. */
  readonly throughput: {
    readonly targets: { readonly label: string; readonly url: string; readonly size: number }[];
    readonly runs: number;
    /** Connections in parallel for the second series. */
    readonly parallel: number;
  };
  /** URLs whose time to first byte is measured one after another. */
  readonly tiles: { readonly url: string; readonly bytes: number }[];
  /** Tile requests made first and not counted, to open the connection and warm caches of code. */
  readonly tileWarmup: number;
  /** Per-request timeout, ms. */
  readonly timeoutMs: number;
}

/** What was measured; times in ms, speeds in MB/s (10^6 bytes). */
export interface LoadResult {
  /** Per target label: MB/s of the first (cold) GET, of each single-connection run, and of each
   * parallel run. */
  readonly throughput: Record<string, { cold: number; single: number[]; parallel: number[] }>;
  /** Time to first body byte of each tile request, and the whole request time. */
  readonly tiles: { ttfbMs: number; totalMs: number; bytes: number }[];
}

/** GETs `url`, reads the body to the end; returns [ms to first byte, ms total, bytes]. */
async function timedGet(url: string, timeoutMs: number): Promise<[number, number, number]> {
  const t0 = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok || !res.body) throw new Error(`GET ${url}: ${res.status}`);
  const reader = res.body.getReader();
  let first = -1, bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (first < 0) first = performance.now() - t0;
    bytes += value.length;
  }
  return [first < 0 ? performance.now() - t0 : first, performance.now() - t0, bytes];
}

async function run(plan: LoadPlan): Promise<LoadResult> {
  const { targets, runs, parallel } = plan.throughput;
  const throughput: LoadResult["throughput"] = {};
  for (const t of targets) throughput[t.label] = { cold: 0, single: [], parallel: [] };
  const check = (t: LoadPlan["throughput"]["targets"][number], bytes: number) => {
    if (bytes !== t.size) throw new Error(`${t.url}: ${bytes} bytes, expected ${t.size}`);
  };
  // One cold GET each, then alternate targets so that drift affects both alike.
  for (const t of targets) {
    const [, ms, bytes] = await timedGet(t.url, plan.timeoutMs);
    check(t, bytes);
    throughput[t.label].cold = bytes / 1e6 / (ms / 1000);
  }
  for (let i = 0; i < runs; i++) {
    for (const t of targets) {
      const [, ms, bytes] = await timedGet(t.url, plan.timeoutMs);
      check(t, bytes);
      throughput[t.label].single.push(bytes / 1e6 / (ms / 1000));
    }
    for (const t of targets) {
      const t0 = performance.now();
      const all = await Promise.all(
        Array.from({ length: parallel }, () => timedGet(t.url, plan.timeoutMs)),
      );
      const ms = performance.now() - t0;
      for (const [, , bytes] of all) check(t, bytes);
      throughput[t.label].parallel.push((parallel * t.size) / 1e6 / (ms / 1000));
    }
  }
  const tiles: LoadResult["tiles"] = [];
  for (const tile of plan.tiles.slice(0, plan.tileWarmup)) await timedGet(tile.url, plan.timeoutMs);
  for (const tile of plan.tiles.slice(plan.tileWarmup)) {
    const [ttfbMs, totalMs, bytes] = await timedGet(tile.url, plan.timeoutMs);
    if (bytes !== tile.bytes) {
      throw new Error(`${tile.url}: ${bytes} bytes, expected ${tile.bytes}`);
    }
    tiles.push({ ttfbMs, totalMs, bytes });
  }
  return { throughput, tiles };
}

if (import.meta.main) {
  const plan = JSON.parse(await Deno.readTextFile(Deno.args[0])) as LoadPlan;
  console.log(JSON.stringify(await run(plan)));
}
