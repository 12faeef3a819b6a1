/**
 * Time to a verified `model.safetensors` on disk (tmpfs), for one file on one link profile, by
 * each way a user gets it, each a whole process:
 * - `static`: `curl -o` of the original from the static server, one GET;
 * - `decoded`, `compressed`: `deno run -A src/cli/main.ts pull URL OUT --transport T`, and `auto`:
 *   the same without `--transport` (pull's default);
 * - `loadModel`: `load_model_child.ts` (no file: tensors in memory, each verified by the client),
 *   timed to the first layer and to the last tensor, by this process (from spawn) and by the child
 *   itself (from its `loadModel` call).
 *
 * Every output is checked here against the original's SHA-256 (curl's too; the time of that check
 * is not counted, pull checks inside its own time). Per run: the proxy's request and byte counts
 * (link profiles only), the client's peak RSS (`/usr/bin/time`) and the server's (/proc, reset
 * before the run). Methods are taken in turn within each repeat.
 * @module
 */
import { fileSha256 } from "./file_sha256.ts";
import { type BenchFile, cli } from "./inputs.ts";
import { peakRssKiB, resetPeakRss, timed } from "./processes.ts";
import type { Profile } from "./profiles.ts";
import type { Proxy, ProxyStats } from "./proxy.ts";

/** The ways of getting the model. */
export const METHODS = ["static", "decoded", "compressed", "auto", "loadModel"] as const;
/** One of {@link METHODS}. */
export type Method = typeof METHODS[number];

/** One timed run. */
export interface TransferRun {
  /** Whole-process wall time, ms (for loadModel: to the last tensor). */
  readonly ms: number;
  /** Output verified (SHA-256 for files; tensor count and bytes for loadModel). */
  readonly verified: boolean;
  /** Why it failed. */
  readonly error?: string;
  /** What the proxy counted (link profiles only). */
  readonly proxy?: Pick<
    ProxyStats,
    "connections" | "requests" | "rangeRequests" | "bytesDown" | "bytesUp"
  >;
  /** Peak RSS of the client process, KiB. */
  readonly clientPeakRssKiB: number | null;
  /** CPU time (user + system) of the client process, ms (absent in runs before it was kept). */
  readonly clientCpuMs?: number | null;
  /** Peak RSS of the server process tree during the run, KiB. */
  readonly serverPeakRssKiB: number | null;
  /** The transport pull reports it used. */
  readonly transport?: string;
  /** loadModel: first layer in, ms from spawn. */
  readonly firstLayerMs?: number;
  /** loadModel: first layer in, ms from the loadModel call (in-process). */
  readonly firstLayerInProcessMs?: number;
  /** loadModel: last tensor in, ms from the loadModel call (in-process). */
  readonly lastTensorInProcessMs?: number;
  /** loadModel: the client entry point used. */
  readonly entry?: string;
}

/** The runs of one method on one file and profile. */
export interface TransferResult {
  /** Profile name. */
  readonly profile: string;
  /** File stem. */
  readonly stem: string;
  /** Method. */
  readonly method: Method;
  /** The runs, in order. */
  readonly runs: TransferRun[];
}

/** Where the servers are, and how to count. */
export interface TransferSetup {
  /** The repository. */
  readonly repo: string;
  /** Output folder (tmpfs). */
  readonly outDir: string;
  /** The profile. */
  readonly profile: Profile;
  /** Static server port as seen by clients (the proxy's on a link profile). */
  readonly staticPort: number;
  /** Tessera (cold) server port as seen by clients. */
  readonly tesseraPort: number;
  /** Server processes whose RSS is read. */
  readonly staticPid: number;
  /** Tessera server process. */
  readonly tesseraPid: number;
  /** Proxies, on a link profile. */
  readonly proxies: { readonly static: Proxy; readonly tessera: Proxy } | null;
}

/** A timeout for moving `bytes` over the profile: generous, so that only a hang trips it. */
function timeoutFor(bytes: number, profile: Profile): number {
  const rate = (profile.link?.bitsPerSecond ?? 8e9) / 8;
  return 120_000 + 20 * (bytes / rate) * 1000;
}

async function removeOutputs(out: string): Promise<void> {
  for (const p of [out, `${out}.part`, `${out}.part.json`]) await Deno.remove(p).catch(() => {});
}

/** Runs `method` once on `file`. */
async function runOnce(file: BenchFile, method: Method, s: TransferSetup): Promise<TransferRun> {
  const out = `${s.outDir}/${file.stem}.${method}.safetensors`;
  await removeOutputs(out);
  const proxy = method === "static" ? s.proxies?.static : s.proxies?.tessera;
  const serverPid = method === "static" ? s.staticPid : s.tesseraPid;
  proxy?.reset();
  await resetPeakRss(serverPid);
  const host = (port: number) => `http://127.0.0.1:${port}`;
  const timeoutMs = timeoutFor(file.size, s.profile);
  let cmd: string, args: string[];
  if (method === "static") {
    [cmd, args] = [
      "curl",
      ["-sS", "--fail", "-o", out, `${host(s.staticPort)}/${file.id}/model.safetensors`],
    ];
  } else if (method === "loadModel") {
    [cmd, args] = [Deno.execPath(), [
      "run",
      "-A",
      `${s.repo}/bench/transfer/load_model_child.ts`,
      `${host(s.tesseraPort)}/v1/models/${file.id}`,
      "--first-layer-tensors",
      String(file.firstLayer.tensors),
    ]];
  } else {
    // `auto` is pull's default: it is run without the flag, as a user would.
    const transport = method === "auto" ? [] : ["--transport", method];
    [cmd, args] = cli(s.repo, "pull", `${host(s.tesseraPort)}/${file.id}`, out, ...transport);
  }
  const t = await timed(cmd, args, { cwd: s.repo, timeoutMs });
  const serverPeak = await peakRssKiB(serverPid);
  const stats = proxy?.stats();
  const base = {
    ms: t.ms,
    clientPeakRssKiB: t.peakRssKiB,
    clientCpuMs: t.cpuMs,
    serverPeakRssKiB: serverPeak,
    ...(stats
      ? {
        proxy: {
          connections: stats.connections,
          requests: stats.requests,
          rangeRequests: stats.rangeRequests,
          bytesDown: stats.bytesDown,
          bytesUp: stats.bytesUp,
        },
      }
      : {}),
  };
  if (t.code !== 0) {
    await removeOutputs(out);
    const why = (t.stderr.trim() || t.stdout.trim()).split("\n").slice(-3).join(" | ");
    return { ...base, verified: false, error: `exit ${t.code}: ${why.slice(0, 400)}` };
  }
  if (method === "loadModel") {
    const events = t.lines.flatMap((l) => {
      try {
        return [{ ms: l.ms, e: JSON.parse(l.text) as Record<string, unknown> }];
      } catch {
        return [];
      }
    });
    const first = events.find((x) => x.e.event === "first-layer");
    const done = events.find((x) => x.e.event === "done");
    const verified = !!done && done.e.tensors === file.tensors &&
      done.e.bytes === file.tensorBytes;
    return {
      ...base,
      verified,
      ...(verified
        ? {}
        : { error: `loadModel: ${JSON.stringify(done?.e ?? t.stdout.slice(-200))}` }),
      firstLayerMs: first?.ms,
      firstLayerInProcessMs: first?.e.inProcessMs as number | undefined,
      lastTensorInProcessMs: done?.e.inProcessMs as number | undefined,
      entry: done?.e.entry as string | undefined,
    };
  }
  const sha = await fileSha256(out).catch(() => "missing");
  await removeOutputs(out);
  // The transport pull names in its last line; failing that (a changed message), Range requests
  // through the proxy mean chunks were fetched, i.e. the compressed transport.
  const transport = method === "static"
    ? undefined
    : /over (decoded|compressed)/.exec(t.stdout)?.[1] ??
      (stats ? (stats.rangeRequests > 0 ? "compressed" : "decoded") : undefined);
  return {
    ...base,
    verified: sha === file.sha256,
    ...(sha === file.sha256 ? {} : { error: `sha256 ${sha}, expected ${file.sha256}` }),
    ...(transport ? { transport } : {}),
  };
}

/** Measures every method of `methods` on `file`, `repeats` times each, in turn. */
export async function measureTransfers(
  file: BenchFile,
  methods: readonly Method[],
  repeats: number,
  s: TransferSetup,
  log: (msg: string) => void,
): Promise<TransferResult[]> {
  const results = methods.map((method) => ({
    profile: s.profile.name,
    stem: file.stem,
    method,
    runs: [] as TransferRun[],
  }));
  for (let r = 0; r < repeats; r++) {
    for (const res of results) {
      // A method that failed is not tried again: a hang would cost its timeout each time.
      if (res.runs.some((x) => x.error)) continue;
      const run = await runOnce(file, res.method, s);
      res.runs.push(run);
      if (run.error) log(`  ${s.profile.name} ${file.stem} ${res.method}: ${run.error}`);
    }
  }
  return results;
}
