/**
 * Server configuration from command-line flags and environment variables.
 *
 * | flag | env | default |
 * |---|---|---|
 * | `--store file:DIR` or `--models DIR` | `TESSERA_MODELS` | `./models` |
 * | `--port N` | `PORT` | 8080 |
 * | `--host H` | | 127.0.0.1 |
 * | `--cache-mb N` | | 256 |
 * | `--token T` | `TESSERA_TOKEN` | none: uploads and deletes disabled |
 * | `--max-upload-mb N` | | 4096 |
 * | `--workers N` | | min(4, cores) |
 * | `--timeout-s N` | | 30 |
 * | `--upload-ttl-h N` | | 24: uploads no commit names are kept this long |
 * | `--no-demo` | | pack the demo model into an empty models folder |
 * | `--origin URL` | `TESSERA_ORIGIN` | none; set: an edge of that origin (read-only) |
 * | `--cache-dir DIR` | | `./edge-cache`: an edge's disk tier |
 * | `--cache-gb N` | | 10: its budget |
 * | `--origin-timeout-s N` | | 5: an edge's limit on each origin request's headers |
 * | `--quiet` | | log each request |
 * @module
 */
import { parseArgs } from "node:util";

/** Everything the server needs to start. */
export interface ServerConfig {
  /** Where the store lives: a folder path, or `file:DIR`. */
  readonly modelsDir: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Interface to listen on. */
  readonly host: string;
  /** Byte budget of the decoded-chunk cache. */
  readonly cacheBytes: number;
  /** Bearer token for PUT and DELETE; null disables them. */
  readonly token: string | null;
  /** Largest model upload. */
  readonly maxUploadBytes: number;
  /** How long uploads that no commit names are kept, ms. */
  readonly uploadTtlMs: number;
  /** Decode worker threads; 0 decodes on the main thread. */
  readonly workers: number;
  /** Limit on the time to response headers, and on any stall of a body (download or upload). */
  readonly timeoutMs: number;
  /** Pack the shipped demo model when the folder holds no model. */
  readonly demo: boolean;
  /** No access log. */
  readonly quiet: boolean;
  /** Pack uploads on the main thread rather than in a worker (tests). */
  readonly packInline: boolean;
  /** The origin this server is an edge of, or null. */
  readonly origin: string | null;
  /** An edge's disk tier. */
  readonly cacheDir: string;
  /** Its budget, bytes. */
  readonly diskCacheBytes: number;
  /** An edge's limit on the time to each origin response's headers. */
  readonly originTimeoutMs: number;
}

/** A flag value that does not parse. */
export class ConfigError extends Error {
  /** Always `"bad_flag"`. */
  readonly kind = "bad_flag";
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Usage text. */
export const SERVE_USAGE =
  `usage: deno task serve [--store file:DIR | --models DIR] [--port N] [--host H] [--cache-mb N]
       [--token T] [--max-upload-mb N] [--upload-ttl-h N] [--workers N] [--timeout-s N]
       [--no-demo] [--quiet]
       or, as an edge of another server: --origin URL [--cache-dir DIR] [--cache-gb N]
       [--origin-timeout-s N] and the flags above but --store, --models and --token`;

/** The defaults, with `overrides` applied: what tests build servers from. */
export function defaultConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    modelsDir: "./models",
    port: 8080,
    host: "127.0.0.1",
    cacheBytes: 256 << 20,
    token: null,
    maxUploadBytes: 4096 * (1 << 20),
    uploadTtlMs: 24 * 3600 * 1000,
    workers: Math.min(4, navigator.hardwareConcurrency || 1),
    timeoutMs: 30_000,
    demo: true,
    quiet: false,
    packInline: false,
    origin: null,
    cacheDir: "./edge-cache",
    diskCacheBytes: 10 * 2 ** 30,
    originTimeoutMs: 5000,
    ...overrides,
  };
}

function num(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || v.trim() === "") {
    throw new ConfigError(`--${name} must be a number >= ${min}: received "${v}"`);
  }
  return n;
}

/**
 * Parses flags `args` with environment `env`.
 *
 * @example
 * ```ts
 * parseServerArgs(["--port", "0", "--no-demo"], {}).port; // 0
 * ```
 */
export function parseServerArgs(
  args: string[],
  env: Record<string, string | undefined>,
): ServerConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        models: { type: "string" },
        store: { type: "string" },
        "upload-ttl-h": { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        "cache-mb": { type: "string" },
        token: { type: "string" },
        "max-upload-mb": { type: "string" },
        workers: { type: "string" },
        "timeout-s": { type: "string" },
        "no-demo": { type: "boolean" },
        quiet: { type: "boolean" },
        origin: { type: "string" },
        "cache-dir": { type: "string" },
        "cache-gb": { type: "string" },
        "origin-timeout-s": { type: "string" },
      },
      strict: true,
    }));
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}\n${SERVE_USAGE}`);
  }
  const d = defaultConfig();
  const port = num("port", values.port ?? env.PORT, 0) ?? d.port;
  if (!Number.isInteger(port) || port > 65535) {
    throw new ConfigError(`--port must be an integer from 0 to 65535: received ${port}`);
  }
  const mb = (name: string, v: string | undefined, dflt: number) => {
    const n = num(name, v, 0);
    return n === undefined ? dflt : Math.floor(n * (1 << 20));
  };
  const workers = num("workers", values.workers, 0);
  const timeout = num("timeout-s", values["timeout-s"], 0.001);
  const ttl = num("upload-ttl-h", values["upload-ttl-h"], 0);
  if (values.models !== undefined && values.store !== undefined) {
    throw new ConfigError(`give --store or --models, not both\n${SERVE_USAGE}`);
  }
  const origin = values.origin ?? env.TESSERA_ORIGIN ?? null;
  if (origin !== null) {
    if (!/^https?:\/\/[^/]+/.test(origin)) {
      throw new ConfigError(`--origin must be an http(s) URL: received "${origin}"`);
    }
    if (values.store !== undefined || values.models !== undefined || values.token) {
      throw new ConfigError(
        `an edge (--origin) serves the origin's store read-only: drop --store, --models and --token`,
      );
    }
  }
  const gb = num("cache-gb", values["cache-gb"], 0);
  const originTimeout = num("origin-timeout-s", values["origin-timeout-s"], 0.001);
  return {
    ...d,
    modelsDir: values.store ?? values.models ?? env.TESSERA_MODELS ?? d.modelsDir,
    port,
    host: values.host ?? d.host,
    cacheBytes: mb("cache-mb", values["cache-mb"], d.cacheBytes),
    token: origin !== null ? null : (values.token ?? env.TESSERA_TOKEN) || null,
    maxUploadBytes: mb("max-upload-mb", values["max-upload-mb"], d.maxUploadBytes),
    workers: workers === undefined ? d.workers : Math.floor(workers),
    timeoutMs: timeout === undefined ? d.timeoutMs : Math.round(timeout * 1000),
    uploadTtlMs: ttl === undefined ? d.uploadTtlMs : Math.round(ttl * 3600 * 1000),
    demo: !values["no-demo"] && origin === null,
    quiet: values.quiet ?? false,
    origin: origin?.replace(/\/+$/, "") ?? null,
    cacheDir: values["cache-dir"] ?? d.cacheDir,
    diskCacheBytes: gb === undefined ? d.diskCacheBytes : Math.floor(gb * 2 ** 30),
    originTimeoutMs: originTimeout === undefined
      ? d.originTimeoutMs
      : Math.round(originTimeout * 1000),
  };
}
