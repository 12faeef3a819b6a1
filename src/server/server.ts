/**
 * Starts and stops a Tessera server: the store, the decode pool and cache, the app, and
 * `Deno.serve` on the configured address.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { createModelStore } from "../store/model_store.ts";
import { createDecodePool } from "../threads/decode_pool.ts";
import { createApp } from "./app.ts";
import { createChunkCache } from "./chunk_cache.ts";
import type { ServerConfig } from "./config.ts";
import type { ServerContext } from "./context.ts";
import { createMetrics } from "./metrics.ts";

/** Output bytes decoded ahead of each client: enough to keep a few decode workers busy. */
export const AHEAD_BYTES = 8 << 20;

/** A running server. */
export interface RunningServer {
  /** `http://host:port`. */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** Its services. */
  readonly ctx: ServerContext;
  /** Stops accepting, waits for responses in progress, then frees everything. */
  close(): Promise<void>;
}

/**
 * Creates the services of a server for `config`, without listening: tests use it with
 * `createApp(ctx).request()`. Call `closeContext` when done.
 */
export async function createServerContext(
  config: ServerConfig,
  log: (line: string) => void = console.log,
): Promise<ServerContext> {
  const metrics = createMetrics();
  const store = await createModelStore({ root: config.modelsDir, packInline: config.packInline });
  const pool = createDecodePool(config.workers, nativeBackends(), {
    observe: (b, s, chunks) => metrics.decoded(b, s, chunks),
    eager: true,
  });
  const cache = createChunkCache(config.cacheBytes);
  return {
    config,
    store,
    pool,
    cache,
    chunks: { executor: pool, cache, aheadBytes: AHEAD_BYTES },
    metrics,
    log,
    startedAt: Date.now(),
  };
}

/** Frees what {@link createServerContext} made. */
export function closeContext(ctx: ServerContext): void {
  ctx.pool.close();
  ctx.store.close();
}

/**
 * Starts listening.
 *
 * @example
 * ```ts
 * const server = await startServer(defaultConfig({ modelsDir: dir, port: 0, quiet: true }));
 * await fetch(`${server.url}/healthz`);
 * await server.close();
 * ```
 */
export async function startServer(
  config: ServerConfig,
  log: (line: string) => void = console.log,
): Promise<RunningServer> {
  const ctx = await createServerContext(config, log);
  const app = createApp(ctx);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      port: config.port,
      hostname: config.host,
      onListen() {},
      onError(e) {
        log(`ERROR unhandled: ${(e as Error)?.stack ?? e}`);
        return new Response(
          JSON.stringify({ error: "internal_error", message: "internal server error" }),
          { status: 500, headers: { "Content-Type": "application/json; charset=utf-8" } },
        );
      },
    }, app.fetch);
  } catch (e) {
    closeContext(ctx);
    throw e;
  }
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${server.addr.port}`,
    port: server.addr.port,
    ctx,
    async close() {
      await server.shutdown();
      closeContext(ctx);
    },
  };
}
