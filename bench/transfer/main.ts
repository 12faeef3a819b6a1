/**
 * `deno task bench:transfer`: the end-to-end benchmark of issue 8. Everything is measured as a user
 * runs it, whole processes against real servers on loopback (see docs/ARCHITECTURE.md,
 * "Benchmarks: transfer"):
 * - per link profile (`profiles.ts`: loopback direct; 1 Gbit/s 2 ms and 100 Mbit/s 40 ms through
 *   the throttling proxy of `proxy.ts`), time to a verified model.safetensors on tmpfs by curl of
 *   the original from a static server (nginx), `pull --transport decoded|compressed|auto`, and
 *   `loadModel` (first layer, last tensor), with requests per model and peak RSS
 *   (`measure_transfer.ts`);
 * - whole-process `unpack` (fast, best) against `zstd -d -T1` (`measure_unpack.ts`), also on the
 *   2.2 GB synthetic file (`measure_big.ts`);
 * - cold and warm full-file GET against the static server at 1 and 4 connections
 *   (`measure_get.ts`);
 * over every file of the data folder and a synthetic many-tensor model (`synthetic_model.ts`).
 * Writes `bench/results/transfer-<date>.json` and prints the tables and the acceptance ratios.
 *
 * ```
 * deno task bench:transfer [--quick] [--files a,b] [--profiles loopback,1gbit,100mbit]
 *   [--sections unpack,big,get,transfer] [--repeats N] [--transfer-repeats N]
 *   [--large-repeats N] [--big-gb 2.2] [--no-best] [--no-install] [--port-base 18500]
 *   [--data DIR] [--work DIR] [--disk DIR] [--out FILE]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { acceptance } from "./acceptance.ts";
import { availableStems, type BenchFile, prepareInputs, SYNTHETIC_STEM } from "./inputs.ts";
import { type BigResult, measureBig } from "./measure_big.ts";
import { type GetResult, measureGet } from "./measure_get.ts";
import { measureTransfers, type Method, METHODS, type TransferResult } from "./measure_transfer.ts";
import { measureUnpack, type UnpackResult } from "./measure_unpack.ts";
import { ensureNginx } from "./nginx.ts";
import { canMeasureRss, stopAll, timed } from "./processes.ts";
import { selectProfiles } from "./profiles.ts";
import { checkProxy, type ProxyCheck } from "./proxy_check.ts";
import { formatReport } from "./report.ts";
import { type Servers, startServers, waitIdle } from "./servers.ts";

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");
const SECTIONS = ["unpack", "big", "get", "transfer"] as const;
/** Files above this size get `--large-repeats` transfer runs (the link model is deterministic). */
const LARGE_FILE = 100e6;
/** In `--quick` mode only data files up to this size are measured. */
const QUICK_MAX_BYTES = 9e6;

const USAGE = `usage: deno task bench:transfer [--quick] [--files a,b] [--profiles a,b]
  [--sections unpack,big,get,transfer] [--repeats N] [--transfer-repeats N] [--large-repeats N]
  [--big-gb X] [--no-best] [--no-install] [--port-base N] [--data DIR] [--work DIR] [--disk DIR]
  [--out FILE]`;

/** `../shared/data` beside the checkout, or beside its parent (a worktree under `wt/`). */
async function defaultDataDir(): Promise<string> {
  for (const d of [`${REPO}/../shared/data`, `${REPO}/../../shared/data`]) {
    if (await Deno.stat(d).then((s) => s.isDirectory, () => false)) return d;
  }
  throw new Error(`no data folder at ${REPO}/../shared/data: pass --data DIR`);
}

function log(msg: string): void {
  console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

async function firstLine(cmd: string, args: string[]): Promise<string | null> {
  try {
    const r = await timed(cmd, args);
    return (r.stdout + "\n" + r.stderr).trim().split("\n")[0] || null;
  } catch {
    return null;
  }
}

async function loadavg(): Promise<number[]> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return text.split(" ").slice(0, 3).map(Number);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      files: { type: "string" },
      profiles: { type: "string" },
      sections: { type: "string" },
      repeats: { type: "string" },
      "transfer-repeats": { type: "string" },
      "large-repeats": { type: "string" },
      "big-gb": { type: "string", default: "2.2" },
      "no-best": { type: "boolean", default: false },
      "no-install": { type: "boolean", default: false },
      "port-base": { type: "string", default: "18500" },
      data: { type: "string" },
      work: { type: "string", default: "/dev/shm" },
      disk: { type: "string", default: "/tmp" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = values.quick!;
  const int = (name: string, v: string | undefined, dflt: number) => {
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be an integer >= 1: ${v}`);
    return n;
  };
  const repeats = int("repeats", values.repeats, quick ? 3 : 5);
  const transferRepeats = int("transfer-repeats", values["transfer-repeats"], quick ? 1 : 3);
  const largeRepeats = int("large-repeats", values["large-repeats"], 1);
  const sections = new Set(values.sections ? values.sections.split(",") : SECTIONS);
  if (quick && !values.sections) sections.delete("big");
  for (const s of sections) {
    if (!(SECTIONS as readonly string[]).includes(s)) {
      throw new Error(`unknown section "${s}": expected ${SECTIONS.join(", ")}`);
    }
  }
  const profiles = selectProfiles(values.profiles ? values.profiles.split(",") : []);
  const dataDir = await Deno.realPath(values.data ?? await defaultDataDir());
  const all = await availableStems(dataDir);
  let stems: string[];
  if (values.files) {
    stems = values.files.split(",").filter((s) => s !== "big");
    for (const s of stems) {
      if (!all.includes(s)) {
        throw new Error(`unknown file "${s}": expected one of ${all.join(", ")}`);
      }
    }
    if (!values.files.split(",").includes("big") && !values.sections) sections.delete("big");
  } else if (quick) {
    stems = [];
    for (const s of all) {
      if (s === SYNTHETIC_STEM) continue;
      if ((await Deno.stat(`${dataDir}/${s}.safetensors`)).size <= QUICK_MAX_BYTES) stems.push(s);
    }
  } else stems = all;

  const started = new Date();
  const loadStart = await loadavg();
  log(
    `bench:transfer: ${stems.length} files, profiles ${profiles.map((p) => p.name).join(", ")}, ` +
      `sections ${[...sections].join(", ")}; load average ${loadStart.join(" ")}`,
  );
  if (!(await firstLine("curl", ["--version"]))) throw new Error("curl is required");
  const zstdVersion = await firstLine("zstd", ["--version"]);
  if (!zstdVersion) log("zstd not found: the zstd -d baseline is skipped");
  const rss = await canMeasureRss();
  if (!rss) log("/usr/bin/time not found: client peak RSS is not measured");
  const nginx = await ensureNginx(!values["no-install"]);
  log(
    `static server: ${nginx.path ? `nginx (${nginx.note})` : `Deno.serve (nginx ${nginx.note})`}`,
  );

  const work = await Deno.makeTempDir({ dir: values.work, prefix: "tessera-transfer-" });
  let servers: Servers | null = null;
  const cleanup = async () => {
    await servers?.close();
    await stopAll();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  };
  const onSignal = () => {
    log("interrupted: stopping servers and removing the work folder");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const outDir = `${work}/out`;
    await Deno.mkdir(outDir);
    const files: BenchFile[] = await prepareInputs({
      repo: REPO,
      dataDir,
      work,
      stems,
      best: !values["no-best"] && sections.has("unpack"),
      zstd: !!zstdVersion && sections.has("unpack"),
      log,
    });

    const unpack: UnpackResult[] = [];
    if (sections.has("unpack")) {
      for (const f of files) {
        log(`unpack: ${f.stem}, ${repeats} runs each`);
        unpack.push(
          await measureUnpack(
            {
              stem: f.stem,
              size: f.size,
              sha256: f.sha256,
              fast: f.fast.path,
              best: f.best?.path ?? null,
              zstd: f.zstd?.path ?? null,
            },
            { repo: REPO, outDir, repeats, timeoutMs: 600_000 },
          ),
        );
      }
    }

    const get: GetResult[] = [];
    const transfer: TransferResult[] = [];
    const proxyChecks: ProxyCheck[] = [];
    if ((sections.has("get") || sections.has("transfer")) && files.length > 0) {
      log("starting the static server, the Tessera servers and the proxies");
      servers = await startServers({
        repo: REPO,
        work,
        portBase: Number(values["port-base"]),
        nginx,
        staticProbe: `/${files[0].id}/model.safetensors`,
      });
      const s = servers;
      const pids = [s.static.child.process.pid, s.cold.child.process.pid, s.warm.child.process.pid];
      log(`waiting for the servers to go idle (${((await waitIdle(pids)) / 1000).toFixed(1)} s)`);
      const staticUrl = (port: number, f: BenchFile) =>
        `http://127.0.0.1:${port}/${f.id}/model.safetensors`;
      const virtualUrl = (port: number, f: BenchFile) =>
        `http://127.0.0.1:${port}/${f.id}/resolve/main/model.safetensors`;

      if (sections.has("get")) {
        for (const f of files) {
          log(`GET: ${f.stem}, ${repeats} runs at 1 and 4 connections`);
          get.push(
            await measureGet(f.stem, f.size, {
              urls: {
                static: staticUrl(s.static.port, f),
                cold: virtualUrl(s.cold.port, f),
                warm: virtualUrl(s.warm.port, f),
              },
              pids: {
                static: s.static.child.process.pid,
                cold: s.cold.child.process.pid,
                warm: s.warm.child.process.pid,
              },
            }, repeats),
          );
        }
      }

      if (sections.has("transfer")) {
        const methods: Method[] = [...METHODS];
        // One untimed run of each method, so that Deno's compile cache is warm for every command.
        log("warm-up: one untimed run of each method");
        await measureTransfers(files[0], methods, 1, {
          repo: REPO,
          outDir,
          profile: profiles.find((p) => !p.link) ?? { name: "warm-up", label: "", link: null },
          staticPort: s.static.port,
          tesseraPort: s.cold.port,
          staticPid: s.static.child.process.pid,
          tesseraPid: s.cold.child.process.pid,
          proxies: null,
        }, log);
        const largest = files.reduce((a, b) => (b.size > a.size ? b : a));
        for (const p of profiles) {
          if (p.link) {
            s.proxies.static.setLink(p.link);
            s.proxies.tessera.setLink(p.link);
            const checkFile = files.filter((f) => f.size <= 50e6).at(-1) ?? largest;
            log(`${p.name}: proxy timing check on ${checkFile.stem}`);
            proxyChecks.push(
              await checkProxy(
                p.name,
                p.link,
                staticUrl(s.static.port, checkFile),
                staticUrl(s.proxies.static.port, checkFile),
                checkFile.size,
              ),
            );
          }
          for (const f of files) {
            const n = f.size > LARGE_FILE && values["transfer-repeats"] === undefined
              ? largeRepeats
              : transferRepeats;
            log(`${p.name}: ${f.stem}, ${n} run(s) of ${methods.join(", ")}`);
            transfer.push(
              ...await measureTransfers(f, methods, n, {
                repo: REPO,
                outDir,
                profile: p,
                staticPort: p.link ? s.proxies.static.port : s.static.port,
                tesseraPort: p.link ? s.proxies.tessera.port : s.cold.port,
                staticPid: s.static.child.process.pid,
                tesseraPid: s.cold.child.process.pid,
                proxies: p.link ? s.proxies : null,
              }, log),
            );
          }
        }
      }
      await s.close();
      servers = null;
    }

    let big: BigResult | null = null;
    if (sections.has("big")) {
      big = await measureBig({
        repo: REPO,
        dataDir,
        diskDir: values.disk!,
        outDir,
        bytes: Number(values["big-gb"]) * 1e9,
        repeats: Math.min(repeats, 3),
        log,
      });
      if (big.skipped || big.error) log(`big: ${big.skipped ?? big.error}`);
    }

    const loadEnd = await loadavg();
    const commit = (await firstLine("git", ["-C", REPO, "rev-parse", "HEAD"])) ?? "unknown";
    const dirty = ((await timed("git", ["-C", REPO, "status", "--porcelain", "--", "src", "codec"]))
      .stdout.trim()) !== "";
    const staticKind = nginx.path
      ? `nginx (${nginx.version}; ${nginx.note})`
      : `Deno.serve (${nginx.note})`;
    const accept = acceptance({ files, profiles, unpack, big, get, transfer });
    const header = [
      `# bench:transfer ${started.toISOString()}, commit ${commit.slice(0, 10)}${
        dirty ? " (src/codec modified)" : ""
      }`,
      `load average ${loadStart.join(" ")} at start, ${loadEnd.join(" ")} at end; ` +
      `${navigator.hardwareConcurrency} cores; deno ${Deno.version.deno}; static server ${staticKind}`,
      `times are whole-process seconds (medians), outputs on tmpfs, every output verified by SHA-256`,
    ];
    const report = formatReport({
      files,
      profiles,
      proxyChecks,
      unpack,
      big,
      get,
      transfer,
      acceptance: accept,
      header,
    });
    console.log(report);
    const json = {
      bench: "transfer",
      date: started.toISOString(),
      finished: new Date().toISOString(),
      commit,
      srcModified: dirty,
      machine: {
        cores: navigator.hardwareConcurrency,
        loadavgStart: loadStart,
        loadavgEnd: loadEnd,
        deno: Deno.version.deno,
        curl: await firstLine("curl", ["--version"]),
        zstd: zstdVersion,
        staticServer: staticKind,
        clientRssMeasured: rss,
      },
      options: {
        quick,
        stems,
        profiles: profiles.map((p) => p.name),
        sections: [...sections],
        repeats,
        transferRepeats,
        largeRepeats,
        largeFileBytes: LARGE_FILE,
      },
      profiles,
      files: files.map((f) => ({
        ...f,
        source: f.source.startsWith(work) ? "(built by the bench)" : f.source,
        fast: { size: f.fast.size, packMs: f.fast.packMs },
        best: f.best && { size: f.best.size, packMs: f.best.packMs },
        zstd: f.zstd && { size: f.zstd.size },
      })),
      proxyChecks,
      unpack,
      big,
      get,
      transfer,
      acceptance: accept,
    };
    const out = values.out ??
      `${REPO}/bench/results/transfer-${started.toISOString().slice(0, 10)}${
        quick ? "-quick" : ""
      }.json`;
    await Deno.writeTextFile(out, JSON.stringify(json, null, 1) + "\n");
    log(`wrote ${out}`);
    return 0;
  } finally {
    await cleanup();
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`bench:transfer: ${e instanceof Error ? e.message : e}\n${USAGE}`);
    await stopAll();
    Deno.exit(1);
  }
}
