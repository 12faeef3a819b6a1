/**
 * `deno task bench:soak`: 64 connections for 60 s against a real server process, with a mix of
 * small ranges of the virtual `model.safetensors`, tiles, manifests and whole small tensors, driven
 * by wrk (installed from apt when missing) with a Lua script for the mix. Records requests/s,
 * p50/p99/p99.9 latency, non-2xx and socket errors, the server's RSS every 5 s and after the load,
 * and checks a full download afterwards byte for byte against the source file.
 *
 * RSS "before" is taken after a warm-up (one full download, which fills the block cache, one pass
 * over the request mix, then 5 s of the load and 30 s idle), so that before and after compare
 * steady states and the ratio shows what the load leaked, not what the caches and the runtime's
 * per-connection buffers hold (the RSS after the single-connection warm-up is recorded too). RSS "after" is taken once the
 * server has been idle for 30 s (sampled every 5 s): V8 hands freed heap pages back to the system
 * only when its memory reducer runs, some seconds after allocation stops.
 *
 * The same wrk run is then repeated against a static server in this process that answers every
 * request of the mix with bytes held in memory (fetched from the server beforehand), so the table
 * shows what this machine, at its load at the time, allows any server at 64 connections.
 *
 * ```
 * deno task bench:soak [--seconds 60] [--connections 64] [--model FILE.safetensors] [--data DIR]
 *                      [--without manifests,ranges,tiles,tensors] [--workers N] [--out FILE]
 * ```
 *
 * The model defaults to `../shared/data/human-fp32.bf16.safetensors` (1,184 tensors, 21.6 MB),
 * else the stories260k fixture (47 tensors, the demo model).
 * @module
 */
import { createHash } from "node:crypto";
import { Rng } from "../test/codec/prng.ts";

const REPO = new URL("../", import.meta.url).pathname;
const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) args.set(Deno.args[i], Deno.args[i + 1] ?? "");
const seconds = Number(args.get("--seconds") ?? 60);
const connections = Number(args.get("--connections") ?? 64);
const dataDir = args.get("--data") ?? `${REPO}../shared/data`;
const port = Number(args.get("--port") ?? 18310);
const out = args.get("--out") ??
  `${REPO}bench/results/soak-${new Date().toISOString().slice(0, 10)}.json`;
// Request kinds left out of the mix (a diagnostic: which kind costs the latency).
const without = new Set((args.get("--without") ?? "").split(",").filter(Boolean));
// The server's decode threads (its default when absent), a diagnostic of where requests wait.
const workers = args.get("--workers");
const MODEL_FILE = "human-fp32.bf16.safetensors";
const FALLBACK = `${REPO}test/fixtures/stories260k.bf16.safetensors`;

async function run(cmd: string, argv: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(cmd, { args: argv, stdout: "piped", stderr: "piped" }).output();
}

async function ensureWrk(): Promise<void> {
  const have = await run("wrk", ["--version"]).then(() => true, () => false);
  if (have) return;
  console.log("bench:soak: installing wrk from apt");
  await run("apt-get", ["update", "-qq"]);
  const r = await run("apt-get", ["install", "-y", "-qq", "wrk"]);
  if (!r.success) {
    throw new Error(`apt-get install wrk failed: ${new TextDecoder().decode(r.stderr)}`);
  }
}

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

function loadAverage(): number[] {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
}

interface Manifest {
  tensors: { name: string; dtype: string; shape: number[]; bytes?: number; rawBytes?: number }[];
}

/** The request mix, as [path, headers] pairs in a deterministic shuffled order. */
function requestMix(
  base: string,
  file: number,
  manifest: Manifest,
): [string, Record<string, string>][] {
  const rng = new Rng(10);
  const width = (
    d: string,
  ) => (d === "F32" || d === "I32" || d === "U32"
    ? 4
    : d.endsWith("64")
    ? 8
    : d.startsWith("F8") || d.endsWith("8")
    ? 1
    : 2);
  const size = (t: Manifest["tensors"][number]) =>
    t.shape.reduce((a, b) => a * b, 1) * width(t.dtype);
  const small = manifest.tensors.filter((t) => size(t) > 0 && size(t) <= 64 << 10);
  const matrices = manifest.tensors.filter((t) =>
    t.shape.length === 2 && t.shape[0] >= 64 && t.shape[1] >= 64
  );
  const reqs: [string, Record<string, string>][] = [];
  const enc = (n: string) => n.split("/").map(encodeURIComponent).join("/");
  const kind = (k: number) =>
    k < 40 ? "ranges" : k < 65 ? "tiles" : k < 80 ? "manifests" : "tensors";
  while (reqs.length < 1000) {
    const k = rng.int(100);
    if (without.has(kind(k))) continue;
    if (k < 40) { // a small range of the virtual original
      const len = 1 + rng.int(64 << 10), start = rng.int(file - len);
      reqs.push([`/${base}/resolve/main/model.safetensors`, {
        Range: `bytes=${start}-${start + len - 1}`,
      }]);
    } else if (k < 65) { // a tile
      const t = matrices[rng.int(matrices.length)];
      const r0 = rng.int(t.shape[0] - 16), c0 = rng.int(t.shape[1] - 64);
      reqs.push([
        `/v1/models/${base}/tensors/${enc(t.name)}?rows=${r0}:${r0 + 1 + rng.int(16)}&cols=${c0}:${
          c0 + 1 + rng.int(64)
        }`,
        {},
      ]);
    } else if (k < 80) { // the manifest
      reqs.push([`/v1/models/${base}/manifest`, {}]);
    } else { // a whole small tensor
      reqs.push([`/v1/models/${base}/tensors/${enc(small[rng.int(small.length)].name)}`, {}]);
    }
  }
  return reqs;
}

function luaScript(reqs: [string, Record<string, string>][]): string {
  const q = (s: string) => JSON.stringify(s); // JSON strings of ASCII are valid Lua strings
  const rows = reqs.map(([p, h]) =>
    `{${q(p)}, {${Object.entries(h).map(([k, v]) => `[${q(k)}]=${q(v)}`).join(",")}}}`
  );
  return `
local reqs = {${rows.join(",\n")}}
local counter = 1
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
local i = 0
function init(args)
  i = (id or 1) * 389
end
function request()
  i = i + 1
  local r = reqs[(i % #reqs) + 1]
  return wrk.format("GET", r[1], r[2])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
`;
}

/**
 * The same wrk run against a static server in this process: every request of the mix answered
 * with the bytes the Tessera server gave for it (a Range of model.safetensors cut from the source
 * in memory), so nothing is computed per request. Its latency is the floor this machine allows.
 */
async function staticBaseline(
  url: string,
  reqs: [string, Record<string, string>][],
  script: string,
): Promise<Record<string, unknown>> {
  const bodies = new Map<string, Uint8Array<ArrayBuffer>>();
  for (const [p, h] of reqs) {
    if (h.Range || bodies.has(p)) continue;
    bodies.set(p, new Uint8Array(await (await fetch(url + p)).arrayBuffer()));
  }
  const ac = new AbortController();
  const staticServer = Deno.serve({
    port: port + 1,
    hostname: "127.0.0.1",
    signal: ac.signal,
    onListen() {},
  }, (req) => {
    const u = new URL(req.url);
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("Range") ?? "");
    if (range) {
      const a = Number(range[1]), b = Number(range[2]) + 1;
      return new Response(sourceBytes.subarray(a, b), {
        status: 206,
        headers: { "Content-Range": `bytes ${a}-${b - 1}/${sourceBytes.length}` },
      });
    }
    const body = bodies.get(u.pathname + u.search);
    return body ? new Response(body) : new Response("missing", { status: 404 });
  });
  try {
    const r = await run("wrk", [
      "-t2",
      `-c${connections}`,
      `-d${seconds}s`,
      "--timeout",
      "10s",
      "-s",
      script,
      `http://127.0.0.1:${port + 1}`,
    ]);
    const line = new TextDecoder().decode(r.stdout).split("\n").find((l) =>
      l.startsWith("RESULT ")
    );
    if (!line) throw new Error("wrk against the static server gave no result");
    const w = JSON.parse(line.slice(7));
    return {
      what: "the same mix, answered from memory by Deno.serve in the bench process",
      requestsPerSecond: Math.round(w.requests / (w.duration_us / 1e6)),
      latencyMs: { p50: w.p50 / 1000, p90: w.p90 / 1000, p99: w.p99 / 1000, p999: w.p999 / 1000 },
      non2xx: w.status,
      loadAverageAtEnd: loadAverage(),
    };
  } finally {
    ac.abort();
    await staticServer.finished;
  }
}

async function sha256OfDownload(url: string): Promise<{ bytes: number; sha256: string }> {
  const res = await fetch(url);
  if (res.status !== 200 || !res.body) throw new Error(`GET ${url}: ${res.status}`);
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of res.body) {
    h.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: h.digest("hex") };
}

await ensureWrk();
const source = await Deno.stat(`${dataDir}/${MODEL_FILE}`).then(
  () => `${dataDir}/${MODEL_FILE}`,
  () => FALLBACK,
);
const sourceBytes = await Deno.readFile(source);
const sourceSha = createHash("sha256").update(sourceBytes).digest("hex");
const dir = await Deno.makeTempDir({ prefix: "tessera_soak_" });
let server: Deno.ChildProcess | null = null;
try {
  const rev = `${dir}/soak/model/main`;
  await Deno.mkdir(rev, { recursive: true });
  const pack = await run(Deno.execPath(), [
    "run",
    "-A",
    `${REPO}src/cli/main.ts`,
    "pack",
    source,
    `${rev}/model.tsr`,
    "--mode",
    "fast",
  ]);
  if (!pack.success) throw new Error(new TextDecoder().decode(pack.stderr));
  server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${REPO}src/server_main.ts`,
      "--models",
      dir,
      "--port",
      String(port),
      "--no-demo",
      "--quiet",
      ...(workers === undefined ? [] : ["--workers", workers]),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0;; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (i > 200) throw new Error("the server did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  const manifest = await (await fetch(`${url}/v1/models/soak/model/manifest`)).json() as Manifest;
  const reqs = requestMix("soak/model", sourceBytes.length, manifest);
  const script = `${dir}/mix.lua`;
  await Deno.writeTextFile(script, luaScript(reqs));

  // Warm-up: a full download (caches) and one pass over the mix (code paths).
  const warm = await sha256OfDownload(`${url}/soak/model/resolve/main/model.safetensors`);
  if (warm.sha256 !== sourceSha) throw new Error("the warm-up download differs from the source");
  for (const [p, h] of reqs) await (await fetch(url + p, { headers: h })).arrayBuffer();
  await new Promise((r) => setTimeout(r, 2000));
  const pid = server.pid;
  const rssWarm = rssKiB(pid);
  // Then 5 s of the load itself and 30 s idle, as after the load: the runtime's buffers for 64
  // connections and the heap sizes it settles on after load are then in "before" too, so that
  // "after" measures what a twelve times longer load added, not the first taste of concurrency.
  await run("wrk", ["-t2", `-c${connections}`, "-d5s", "--timeout", "10s", "-s", script, url]);
  await new Promise((r) => setTimeout(r, 30_000));
  const rssBefore = rssKiB(pid), loadBefore = loadAverage();

  const samples: { t: number; rssKiB: number }[] = [];
  const t0 = Date.now();
  const sampler = setInterval(
    () => samples.push({ t: Math.round((Date.now() - t0) / 1000), rssKiB: rssKiB(pid) }),
    5000,
  );
  const wrk = await run("wrk", [
    "-t2",
    `-c${connections}`,
    `-d${seconds}s`,
    "--timeout",
    "10s",
    "-s",
    script,
    url,
  ]);
  clearInterval(sampler);
  const loadDuring = loadAverage();
  const wrkOut = new TextDecoder().decode(wrk.stdout);
  const line = wrkOut.split("\n").find((l) => l.startsWith("RESULT "));
  if (!wrk.success || !line) {
    throw new Error(`wrk failed: ${wrkOut}\n${new TextDecoder().decode(wrk.stderr)}`);
  }
  const w = JSON.parse(line.slice(7));
  const settle: { t: number; rssKiB: number }[] = [];
  for (let t = 5; t <= 30; t += 5) {
    await new Promise((r) => setTimeout(r, 5000));
    settle.push({ t, rssKiB: rssKiB(pid) });
  }
  const rssAfter = settle[settle.length - 1].rssKiB;
  const after = await sha256OfDownload(`${url}/soak/model/resolve/main/model.safetensors`);
  const peak = Math.max(rssBefore, ...samples.map((s) => s.rssKiB));
  const baseline = await staticBaseline(url, reqs, script);
  const errors = w.connect + w.read + w.write + w.timeout;
  const result = {
    date: new Date().toISOString(),
    machine: {
      cores: navigator.hardwareConcurrency,
      loadAverageBefore: loadBefore,
      loadAverageAtEnd: loadDuring,
      note: "shared by about 6 engineers; wrk (2 threads) and the server run on the same 2 cores",
    },
    model: {
      file: source.split("/").pop(),
      bytes: sourceBytes.length,
      tensors: manifest.tensors.length,
      mode: "fast",
    },
    serverWorkers: workers === undefined ? "default" : Number(workers),
    load: {
      tool: "wrk 4.1.0 with a Lua mix",
      connections,
      threads: 2,
      seconds,
      mix:
        "40% ranges of 1 B-64 KiB of model.safetensors, 25% tiles (1-16 rows x 1-64 cols), 15% manifests, 20% whole tensors <= 64 KiB" +
        (without.size ? `, without ${[...without].join(" and ")}` : ""),
    },
    requests: w.requests,
    requestsPerSecond: Math.round(w.requests / (w.duration_us / 1e6)),
    megabytesPerSecond: Number((w.bytes / (w.duration_us / 1e6) / 1e6).toFixed(1)),
    latencyMs: {
      p50: w.p50 / 1000,
      p90: w.p90 / 1000,
      p99: w.p99 / 1000,
      p999: w.p999 / 1000,
      max: w.max / 1000,
      mean: Number((w.mean / 1000).toFixed(2)),
    },
    non2xx: w.status,
    socketErrors: { connect: w.connect, read: w.read, write: w.write, timeout: w.timeout },
    rssMiB: {
      afterWarmUp: Number((rssWarm / 1024).toFixed(1)),
      before: Number((rssBefore / 1024).toFixed(1)),
      every5s: samples.map((s) => ({ t: s.t, mib: Number((s.rssKiB / 1024).toFixed(1)) })),
      peak: Number((peak / 1024).toFixed(1)),
      afterIdle: settle.map((s) => ({ t: s.t, mib: Number((s.rssKiB / 1024).toFixed(1)) })),
      after: Number((rssAfter / 1024).toFixed(1)),
      afterOverBefore: Number((rssAfter / rssBefore).toFixed(3)),
    },
    staticBaseline: baseline,
    downloadAfter: {
      bytes: after.bytes,
      sha256: after.sha256,
      identical: after.sha256 === sourceSha && after.bytes === sourceBytes.length,
    },
    acceptance: {
      noErrors: errors === 0 && w.status === 0,
      p99AtMost100ms: w.p99 <= 100_000,
      rssAfterWithin125: rssAfter <= 1.25 * rssBefore,
      downloadIdentical: after.sha256 === sourceSha,
    },
  };
  await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result, null, 2));
  console.log(`bench:soak: results in ${out}`);
  const ok = Object.values(result.acceptance).every(Boolean);
  if (!ok) console.log("bench:soak: an acceptance point failed");
} finally {
  if (server) {
    try {
      server.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await server.status;
    await server.stdout.cancel().catch(() => {});
  }
  await Deno.remove(dir, { recursive: true });
}
