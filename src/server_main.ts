/**
 * `deno task serve`: serves the store (see `src/server/config.ts` for the flags). On a fresh
 * clone the store is empty, so the shipped demo model is published into it first. SIGINT and
 * SIGTERM stop it gracefully: writes are refused at once, the listener closes, and responses in
 * progress get `--timeout-s` to finish (the Docker image relies on this).
 * @module
 */
import { describeOsError, reportFileSizeLimits } from "./cli/os_errors.ts";
import { useCallerFolder } from "./cli/paths.ts";
import { ConfigError, parseServerArgs } from "./server/config.ts";
import { ensureDemoModel } from "./server/demo_model.ts";
import { startServer } from "./server/server.ts";
import type { ServerContext } from "./server/context.ts";

/** How often garbage collection runs (expired uploads, unreachable commits). */
const GC_EVERY_MS = 3600 * 1000;

/** Runs the server until SIGINT or SIGTERM; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let config;
  try {
    config = parseServerArgs(args, Deno.env.toObject());
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  reportFileSizeLimits();
  // The demo is published before the port opens, so that nothing (a health check, a first
  // download) sees the server without it.
  let published: string | null = null;
  const publishDemo = async (ctx: ServerContext) => {
    if (!config.demo) return;
    try {
      published = await ensureDemoModel(ctx.store);
    } catch (e) {
      console.error(`warning: the demo model was not published: ${(e as Error).message}`);
    }
  };
  let server;
  try {
    server = await startServer(config, console.log, publishDemo);
  } catch (e) {
    const line = describeOsError(e);
    if (line === null) throw e;
    console.error(`error: ${line}`);
    return 1;
  }
  const { store } = server.ctx;
  if (published) console.log(`the store holds no model: published the demo as ${published}`);
  const models = await store.reader.list().catch((e) => {
    console.error(`warning: the models could not be listed: ${(e as Error).message}`);
    return [];
  });
  if (config.origin) {
    console.log(
      `edge of ${config.origin}: disk tier ${config.cacheDir} (${
        (config.diskCacheBytes / 2 ** 30).toFixed(1)
      } GiB)`,
    );
  }
  console.log(
    `Tessera serving ${models.length} model(s) from ${store.objects.url} at ${server.url} ` +
      `(${config.workers} decode workers, ${config.cacheBytes >> 20} MiB cache, uploads ` +
      `${config.token ? "enabled" : "disabled"})`,
  );
  for (const m of models) console.log(`  ${server.url}/v1/models/${m.id}/manifest`);
  console.log(`  API: ${server.url}/openapi.json`);
  // An edge stores nothing of its own: the origin collects.
  const gc = setInterval(() => {
    if (config.origin) return;
    store.gc().then((r) => {
      if (r.blobs + r.commits + r.uploads > 0) {
        console.log(`gc: removed ${r.commits} commits, ${r.blobs} contents (${r.bytes} bytes)`);
      }
    }, (e) => console.error(`gc failed: ${(e as Error).message}`));
  }, GC_EVERY_MS);
  Deno.unrefTimer(gc);
  const signal = await new Promise<string>((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(sig, () => resolve(sig));
    }
  });
  clearInterval(gc);
  const grace = config.timeoutMs;
  console.log(`${signal}: shutting down (responses in progress get ${grace / 1000} s)`);
  const finished = await server.stop(grace);
  console.log(finished ? "stopped" : "stopped; responses still running were cut");
  return 0;
}

if (import.meta.main) {
  useCallerFolder();
  Deno.exit(await main(Deno.args));
}
