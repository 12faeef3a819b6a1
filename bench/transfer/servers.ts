/**
 * The servers of a `bench:transfer` run, each its own process on loopback: the static baseline
 * (nginx, or `static_server.ts` without it), the Tessera server twice (`--cache-mb 0`, "cold",
 * which every pull and loadModel run uses so that repeats do not hit a cache; and the default
 * cache, "warm", for the warm GET), and two throttling proxies (in the bench's own process) in
 * front of the static server and the cold Tessera server.
 * @module
 */
import { MODEL_FOLDERS } from "./inputs.ts";
import type { NginxFound } from "./nginx.ts";
import { nginxArgs } from "./nginx.ts";
import { type Proxy, startProxy } from "./proxy.ts";
import { type Child, spawnChild, stopAll, waitReady } from "./processes.ts";

/** A running server. */
export interface Server {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Its process (the master, for nginx). */
  readonly child: Child;
}

/** Every server of the run. */
export interface Servers {
  /** The static baseline and what it is. */
  readonly static: Server & { readonly kind: "nginx" | "deno"; readonly version: string | null };
  /** Tessera with `--cache-mb 0`. */
  readonly cold: Server;
  /** Tessera with its default cache. */
  readonly warm: Server;
  /** Proxies in front of the static server and of `cold`. */
  readonly proxies: { readonly static: Proxy; readonly tessera: Proxy };
  /** Stops everything. */
  close(): Promise<void>;
}

/** Options for {@link startServers}. */
export interface ServerOptions {
  /** The repository. */
  readonly repo: string;
  /** The run's folder (holds `models/`, `static/`, logs). */
  readonly work: string;
  /** First of the ports to use: +1 static, +2 cold, +3 warm, +10 and +11 the proxies. */
  readonly portBase: number;
  /** nginx, if found. */
  readonly nginx: NginxFound;
  /** A URL path (after the host) to wait for on the static server. */
  readonly staticProbe: string;
}

/** Starts the servers and waits until each answers. */
export async function startServers(o: ServerOptions): Promise<Servers> {
  const { repo, work, portBase } = o;
  const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;
  try {
    const staticPort = portBase + 1;
    let staticChild: Child;
    if (o.nginx.path) {
      const args = await nginxArgs(`${work}/static`, staticPort, `${work}/nginx`);
      staticChild = await spawnChild("nginx", o.nginx.path, args, `${work}/nginx.log`);
    } else {
      staticChild = await spawnChild("static server", Deno.execPath(), [
        "run",
        "-A",
        `${repo}/bench/transfer/static_server.ts`,
        "--root",
        `${work}/static`,
        "--port",
        String(staticPort),
      ], `${work}/static.log`);
    }
    const tessera = (name: string, port: number, models: string, extra: string[]) =>
      spawnChild(
        name,
        Deno.execPath(),
        [
          "run",
          "-A",
          `${repo}/src/server_main.ts`,
          "--models",
          `${work}/${models}`,
          "--port",
          String(port),
          "--no-demo",
          "--quiet",
          ...extra,
        ],
        `${work}/${name}.log`,
        repo,
      );
    // One models folder per server: a server locks the store it opens.
    const cold = await tessera("tessera-cold", portBase + 2, MODEL_FOLDERS[0], ["--cache-mb", "0"]);
    const warm = await tessera("tessera-warm", portBase + 3, MODEL_FOLDERS[1], []);
    await waitReady(url(staticPort, o.staticProbe), staticChild);
    await waitReady(url(portBase + 2, "/healthz"), cold);
    await waitReady(url(portBase + 3, "/healthz"), warm);
    const proxies = {
      static: startProxy({
        upstreamPort: staticPort,
        port: portBase + 10,
        link: { bitsPerSecond: null, rttMs: 0 },
      }),
      tessera: startProxy({
        upstreamPort: portBase + 2,
        port: portBase + 11,
        link: { bitsPerSecond: null, rttMs: 0 },
      }),
    };
    return {
      static: {
        port: staticPort,
        child: staticChild,
        kind: o.nginx.path ? "nginx" : "deno",
        version: o.nginx.path ? o.nginx.version : `deno ${Deno.version.deno}`,
      },
      cold: { port: portBase + 2, child: cold },
      warm: { port: portBase + 3, child: warm },
      proxies,
      async close() {
        await proxies.static.close();
        await proxies.tessera.close();
        await stopAll();
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** CPU time (user + system) of `pid`, in clock ticks; null once it is gone. */
async function cpuTicks(pid: number): Promise<number | null> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
  } catch {
    return null;
  }
}

/**
 * Waits until the processes `pids` use under 5% of a core over 500 ms (the Tessera server hashes
 * its containers in the background after start), or `maxMs` passes. Returns the ms waited.
 */
export async function waitIdle(pids: number[], maxMs = 120_000): Promise<number> {
  const t0 = performance.now();
  const total = async () => {
    let n = 0;
    for (const p of pids) n += (await cpuTicks(p)) ?? 0;
    return n;
  };
  let before = await total();
  while (performance.now() - t0 < maxMs) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await total();
    // 100 ticks per second: under 2.5 ticks in 500 ms is under 5% of a core.
    if (now - before < 2.5) break;
    before = now;
  }
  return performance.now() - t0;
}
