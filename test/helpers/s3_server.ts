/**
 * Starts the loopback S3 server of `s3_server_main.ts` as a child process (installed from npm by
 * Deno on first use, pinned in deno.lock) and gives the AWS environment that points a store at
 * it. The child ends when this process does: it stops once its standard input closes.
 * @module
 */

const MAIN = new URL("./s3_server_main.ts", import.meta.url).pathname;

/** A running S3 server. */
export interface S3Server {
  /** `http://127.0.0.1:port`. */
  readonly endpoint: string;
  /** Its port. */
  readonly port: number;
  /** Its one bucket. */
  readonly bucket: string;
  /** Where it keeps objects. */
  readonly dir: string;
  /** The AWS variables that point a store at it. */
  readonly env: Record<string, string>;
  /** An `s3://` URL of a fresh prefix in its bucket. */
  freshStore(name?: string): string;
  /** Stops it and waits. */
  stop(): Promise<void>;
  /** Kills it at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
}

/** Options of {@link startS3Server}. */
export interface S3ServerOptions {
  /** Port; a free one by default. */
  readonly port?: number;
  /** Object folder; a fresh temporary one by default (a restart passes the old one). */
  readonly dir?: string;
  /** Evaluate If-Match / If-None-Match on writes (conditional mode). */
  readonly conditional?: boolean;
  /** Let the process outlive nothing but this one: not waited on by the event loop. */
  readonly unref?: boolean;
}

let counter = 0;

/**
 * Starts a server.
 *
 * @example
 * ```ts ignore
 * const s3 = await startS3Server();
 * const store = await openS3ObjectStore(s3.freshStore(), { env: s3.env });
 * await s3.stop();
 * ```
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const args = ["run", "-A", "--quiet", MAIN, "--port", String(options.port ?? 0)];
  if (options.dir) args.push("--dir", options.dir);
  if (options.conditional) args.push("--conditional");
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (options.unref) child.unref();
  const stdin = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) {
      await stdin.close().catch(() => {});
      throw new Error(`the S3 server exited before listening: ${text}`);
    }
    text += value;
  }
  // Keep draining its output so it never blocks on a full pipe.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* drop */ }
    } catch { /* closed */ }
  })();
  const info = JSON.parse(text.slice(0, text.indexOf("\n"))) as {
    port: number;
    dir: string;
    bucket: string;
  };
  const endpoint = `http://127.0.0.1:${info.port}`;
  let ended: Promise<void> | null = null;
  const end = (how: "stop" | "kill") => {
    ended ??= (async () => {
      if (how === "kill") child.kill("SIGKILL");
      await stdin.close().catch(() => {});
      await child.status;
    })();
    return ended;
  };
  return {
    endpoint,
    port: info.port,
    bucket: info.bucket,
    dir: info.dir,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REGION: "us-east-1",
    },
    freshStore: (name = "store") => `s3://${info.bucket}/${name}-${Deno.pid}-${++counter}`,
    stop: () => end("stop"),
    kill: () => end("kill"),
  };
}
