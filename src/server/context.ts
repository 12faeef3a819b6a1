/**
 * What every route handler shares: the configuration, the model store, the chunk pipeline and
 * the metrics, plus the Hono environment type that carries per-request state.
 * @module
 */
import type { Context } from "hono";
import type { Edge } from "../edge/edge.ts";
import type { RepoStore } from "../store/repo_store.ts";
import type { DecodePool } from "../threads/decode_pool.ts";
import type { ChunkCache } from "./chunk_cache.ts";
import type { CommitViews } from "./commit_views.ts";
import type { ServerConfig } from "./config.ts";
import type { Metrics } from "./metrics.ts";
import type { ReadPipeline } from "./representations.ts";

/** Long-lived services of one server. */
export interface ServerContext {
  /** Configuration. */
  readonly config: ServerConfig;
  /** The model repos. */
  readonly store: RepoStore;
  /** What each commit's containers hold (tensors, layers), derived once per commit. */
  readonly views: CommitViews;
  /** How representations read: the decode pool, the block cache, the read-ahead. */
  readonly chunks: ReadPipeline;
  /** The cache of assembled blocks behind `chunks`. */
  readonly cache: ChunkCache;
  /** The decode workers behind `chunks`. */
  readonly pool: DecodePool;
  /** Metrics. */
  readonly metrics: Metrics;
  /** Writes one log line (access log, errors). */
  readonly log: (line: string) => void;
  /** When the server started, ms since the epoch. */
  readonly startedAt: number;
  /** Set once the server is shutting down: new writes are refused. */
  readonly shutdown: AbortSignal;
  /** The edge's tiers and origin, when this server is an edge (`--origin`). */
  readonly edge?: Edge;
}

/** Per-request accounting the access log reads once the response is over. */
export interface RequestTrack {
  /** The route pattern that answered. */
  route: string;
  /** Body bytes sent so far. */
  bytes: number;
  /** Set when the body is a stream that reports its own end. */
  streaming: boolean;
  /** Set when the header timeout fired; a late response is discarded. */
  timedOut: boolean;
  /** The request's id (`X-Request-Id`). */
  id: string;
  /**
   * Headers every response to the request carries (its id, CORS). `respond` builds its response
   * with them; the middleware that adds them sets them on any other response.
   */
  readonly headers: [string, string][];
  /** The response `respond` built with {@link RequestTrack.headers}, once it has. */
  built?: Response;
  /** Called by a streamed body when it ends. */
  end(how: "done" | "error" | "cancel", error?: unknown): void;
}

/** Hono environment of the app. */
export interface AppEnv {
  /** Per-request variables. */
  Variables: { track: RequestTrack };
}

/** A handler's context. */
export type AppContext = Context<AppEnv>;
