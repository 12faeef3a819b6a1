/**
 * `deno task serve`: serves the models folder (see `src/server/config.ts` for the flags). On a
 * fresh clone the folder is empty, so the shipped demo model is packed into it first.
 * @module
 */
import { ConfigError, parseServerArgs } from "./server/config.ts";
import { ensureDemoModel } from "./server/demo_model.ts";
import { startServer } from "./server/server.ts";
import { listModels } from "./store/layout.ts";

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
  await Deno.mkdir(config.modelsDir, { recursive: true });
  if (config.demo) {
    const packed = await ensureDemoModel(config.modelsDir);
    if (packed) {
      console.log(`${config.modelsDir} holds no model: packed the demo model into ${packed}`);
    }
  }
  const server = await startServer(config);
  await server.ctx.store.sweep();
  const models = await listModels(config.modelsDir);
  console.log(
    `Tessera serving ${models.length} model(s) from ${config.modelsDir} at ${server.url} ` +
      `(${config.workers} decode workers, ${config.cacheBytes >> 20} MiB cache, uploads ` +
      `${config.token ? "enabled" : "disabled"})`,
  );
  for (const m of models) console.log(`  ${server.url}/v1/models/${m.id}/manifest`);
  console.log(`  API: ${server.url}/openapi.json`);
  // Hash containers that have no recorded digest yet, so the first request need not wait for it.
  void (async () => {
    for (const m of models) {
      const [org, name] = m.id.split("/");
      for (const r of m.revisions) {
        await server.ctx.store.snapshot(await server.ctx.store.resolve(org, name, r)).catch(
          () => {},
        );
      }
    }
  })();
  const stop = new Promise<void>((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => resolve());
  });
  await stop;
  console.log("shutting down");
  await server.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
