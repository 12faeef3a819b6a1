/**
 * Starts and stops a Tessera server: the store, the decode pool and cache, the app, and
 * `Deno.serve` on the configured address. Stopping is graceful: writes are refused at once, the
 * listener stops accepting, and responses in progress get a bounded time to finish.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { openEdge } from "../edge/edge.ts";
import { isBodyFailure } from "../http/body_stream.ts";
import { openRepoStore } from "../store/repo_store.ts";
import { createDecodePool } from "../threads/decode_pool.ts";
import { createApp } from "./app.ts";
import { createChunkCache } from "./chunk_cache.ts";
import { createCommitViews } from "./commit_views.ts";
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
  /**
   * Stops: refuses writes, stops accepting, waits up to `graceMs` (default: the configured
   * timeout) for responses in progress, then frees everything. Resolves to whether every response
   * finished within the bound.
   */
  stop(graceMs?: number): Promise<boolean>;
  /** {@link RunningServer.stop} with the default bound. */
  close(): Promise<void>;
}

/**
 * Creates the services of a server for `config`, without listening: tests use it with
 * `createApp(ctx).request()`. Call `closeContext` when done.
 */
export async function createServerContext(
  config: ServerConfig,
  log: (line: string) => void = console.log,
  shutdown: AbortSignal = new AbortController().signal,
): Promise<ServerContext> {
  const metrics = createMetrics();
  // An edge runs this same server over the origin's store, read-only, through its tiers.
  const edge = config.origin ? await openEdge(config, log) : undefined;
  const store = await openRepoStore({
    store: edge?.objects ?? config.modelsDir,
    packInline: config.packInline,
    uploadTtlMs: config.uploadTtlMs,
    log,
    ...(edge && { gcOnOpen: false, importLegacy: false }),
  }).catch(async (e) => {
    await edge?.close();
    throw e;
  });
  const pool = createDecodePool(config.workers, nativeBackends(), {
    observe: (b, s, chunks) => metrics.decoded(b, s, chunks),
    eager: true,
  });
  const cache = createChunkCache(config.cacheBytes);
  return {
    config,
    store,
    views: createCommitViews(store),
    pool,
    cache,
    chunks: {
      executor: pool,
      cache,
      aheadBytes: AHEAD_BYTES,
      // One native thread per body per two workers: a cold 338 MB GET, paired runs at load 3
      // (medians of 5 and 3), 1 thread against 2: 780 MB/s both and 470 against 520 ms of CPU per
      // GET at 1 connection, 660 against 600 MB/s at 4 (the body's in-order sending, this
      // process's event loop and the client share the cores with the decoding).
      native: config.workers > 0
        ? {
          threads: Math.max(1, Math.floor(config.workers / 2)),
          observe: (b, s, n) => metrics.decoded(b, s, n),
        }
        : undefined,
    },
    metrics,
    log,
    startedAt: Date.now(),
    shutdown,
    edge,
  };
}

/** Frees what {@link createServerContext} made. */
export async function closeContext(ctx: ServerContext): Promise<void> {
  ctx.pool.close();
  await ctx.store.close();
  await ctx.edge?.close();
}

/**
 * Starts listening, once `prepare` (if given) has run on the services.
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
  prepare?: (ctx: ServerContext) => Promise<void>,
): Promise<RunningServer> {
  const stopping = new AbortController();
  const ctx = await createServerContext(config, log, stopping.signal);
  // Before the port opens: a health check that passes finds what `prepare` made (the demo).
  try {
    await prepare?.(ctx);
  } catch (e) {
    await closeContext(ctx);
    throw e;
  }
  const app = createApp(ctx);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      port: config.port,
      hostname: config.host,
      onListen() {},
      onError(e) {
        // A body that failed mid-stream was logged by respond(), once.
        if (!isBodyFailure(e)) log(`ERROR unhandled: ${(e as Error)?.stack ?? e}`);
        return new Response(
          JSON.stringify({ error: "internal_error", message: "internal server error" }),
          { status: 500, headers: { "Content-Type": "application/json; charset=utf-8" } },
        );
      },
    }, app.fetch);
  } catch (e) {
    await closeContext(ctx);
    throw e;
  }
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  let closing: Promise<boolean> | null = null;
  const stop = (graceMs = config.timeoutMs) => {
    closing ??= (async () => {
      stopping.abort();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finished = await Promise.race([
        server.shutdown().then(() => true),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), graceMs)),
      ]);
      clearTimeout(timer);
      await closeContext(ctx);
      return finished;
    })();
    return closing;
  };
  return {
    url: `http://${host}:${server.addr.port}`,
    port: server.addr.port,
    ctx,
    stop,
    close: () => stop().then(() => {}),
  };
}
