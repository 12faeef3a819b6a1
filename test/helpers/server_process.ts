/**
 * The server as a separate process, for what only a process can show: its exit code and output,
 * `kill -9` at any moment, SIGTERM, and a second process on the same folder.
 * @module
 */
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/server_main.ts", import.meta.url));

/** A server process. */
export interface ServerProcess {
  /** `http://127.0.0.1:port`, once it listens. */
  readonly url: string;
  /** The child. */
  readonly child: Deno.ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Sends `signal` (default SIGKILL) and waits for the exit; resolves to the status. */
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Runs the server main with `args` until it exits; for start-up failures. */
export async function runServer(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Starts the server on folder `dir` (or the `s3://` store it names, reached with the AWS variables
 * of `env`) on a free port, without the demo model, and waits until it listens.
 *
 * @example
 * ```ts
 * const s = await spawnServer(dir, ["--token", "t"]);
 * await fetch(`${s.url}/healthz`);
 * await s.kill("SIGTERM");
 * ```
 */
export async function spawnServer(
  dir: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      dir.startsWith("s3://") ? "--store" : "--models",
      dir,
      "--port",
      "0",
      "--no-demo",
      "--workers",
      "0",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", TESSERA_NATIVE: "0", ...env },
  }).spawn();
  return await listening(child);
}

/**
 * Starts an edge of `origin` caching in `cacheDir` on a free port, its shell limited by `limits`
 * first (for example `ulimit -f 100`: a file-size limit, which is how a test fills a disk), and
 * waits until it listens.
 *
 * Under limits, Deno's own caches are written before the process starts and not at all while it
 * runs: a file-size limit kills a Deno that writes its emit or V8 code cache (over 100 KiB after
 * sources change) before the server turns SIGXFSZ into EFBIG, which failed a CI run once as
 * "server exited at start" with no output.
 */
export async function spawnEdge(
  origin: string,
  cacheDir: string,
  limits = "",
): Promise<ServerProcess> {
  const deno = Deno.execPath();
  if (limits) {
    const cached = await new Deno.Command(deno, { args: ["cache", MAIN], stdout: "null" }).output();
    if (!cached.success) {
      throw new Error(`deno cache ${MAIN}: ${new TextDecoder().decode(cached.stderr)}`);
    }
  }
  const quote = (a: string) => `'${a.replaceAll("'", `'"'"'`)}'`;
  const command = [deno, "run", "-A", ...(limits ? ["--no-code-cache"] : []), MAIN]
    .concat(["--origin", origin, "--cache-dir", cacheDir, "--port", "0", "--workers", "0"])
    .map(quote).join(" ");
  const child = new Deno.Command("bash", {
    args: ["-c", `${limits}${limits ? "; " : ""}exec ${command}`],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", TESSERA_NATIVE: "0" },
  }).spawn();
  return await listening(child);
}

/** Waits until `child` says where it listens, gathering its output. */
async function listening(child: Deno.ChildProcess): Promise<ServerProcess> {
  let text = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const deadline = Date.now() + 60_000;
  let url = "";
  while (!url) {
    const m = / at (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
    if (m) url = m[1];
    else if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`the server did not start:\n${text}`);
    } else {
      const exited = await Promise.race([
        child.status.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 50)),
      ]);
      if (exited) {
        await drained;
        throw new Error(`the server exited at start:\n${text}`);
      }
    }
  }
  let status: Promise<Deno.CommandStatus> | null = null;
  return {
    url,
    child,
    output: () => text,
    async kill(signal = "SIGKILL") {
      status ??= (async () => {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
        const s = await child.status;
        await drained;
        return s;
      })();
      return await status;
    },
  };
}
