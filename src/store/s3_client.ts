/**
 * Signed requests to one S3 bucket: SigV4 by `aws4fetch` (a 10 KB library: 9-17 ms to import and
 * about 0.5 ms of signing per request here, against 490-670 ms and 1.7-3.5 ms for
 * `@aws-sdk/client-s3`; see ARCHITECTURE.md), sent with `fetch` under a time limit, with our own
 * retry policy (aws4fetch's retries are off: a conditional write must not be sent twice blindly).
 *
 * The few XML bodies S3 answers with (listings, multipart ids, errors) are read by
 * {@link xmlValues}: their members are flat text elements, and the keys this store writes are
 * letters, digits and `/._-` only (`checkKey`), so the five predefined XML entities are all the
 * decoding they need; a general XML parser would add a dependency and its import time for it.
 * @module
 */
import { AwsClient } from "aws4fetch";
import type { S3Config } from "./s3_config.ts";

/** Options of one request. */
export interface S3RequestOptions {
  /** Method; GET by default. */
  readonly method?: string;
  /** Query parameters (sub-resources such as `uploads` take an empty value). */
  readonly query?: Record<string, string>;
  /** Request headers. */
  readonly headers?: Record<string, string>;
  /** Request body. */
  readonly body?: Uint8Array;
  /** Aborts the request. */
  readonly signal?: AbortSignal;
  /** Time to the response headers; the client's default when absent. */
  readonly timeoutMs?: number;
}

/** A signed-request sender for one bucket. */
export interface S3Client {
  /** The configuration. */
  readonly config: S3Config;
  /** Sends a request for `key` (a full key in the bucket; `""` for the bucket itself). */
  request(key: string, options?: S3RequestOptions): Promise<Response>;
}

/** An S3 answer the store did not expect, with its status and S3 error code. */
export class S3Error extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The `<Code>` of the error body, when there was one. */
  readonly code: string | null;
  /** Builds the error. */
  constructor(status: number, code: string | null, message: string) {
    super(message);
    this.name = "S3Error";
    this.status = status;
    this.code = code;
  }
}

/** Default time to response headers: long enough for a loaded store, short enough to fail over. */
export const S3_TIMEOUT_MS = 30_000;

/** Encodes each segment of a key for a URL path (S3 wants RFC 3986 encoding, `/` kept). */
function encodeKey(key: string): string {
  return key.split("/").map((s) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)
  ).join("/");
}

/**
 * A client for the bucket of `config`.
 *
 * @example
 * ```ts ignore
 * const s3 = createS3Client(s3ConfigFromEnv("s3://models", Deno.env.toObject()));
 * const res = await s3.request("hub/refs.json", { headers: { Range: "bytes=0-99" } });
 * ```
 */
export function createS3Client(config: S3Config, timeoutMs = S3_TIMEOUT_MS): S3Client {
  const aws = new AwsClient({
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    sessionToken: config.sessionToken,
    service: "s3",
    region: config.region,
    retries: 0,
  });
  const base = config.pathStyle ? `${config.endpoint}/${config.bucket}` : config.endpoint;
  return {
    config,
    async request(key, options = {}) {
      const url = new URL(`${base}/${encodeKey(key)}`);
      for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
      // aws4fetch signs "k=" for an empty value, which S3 reads as the bare sub-resource.
      const timeout = AbortSignal.timeout(options.timeoutMs ?? timeoutMs);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      const method = options.method ?? "GET";
      // A read that meets a connection the server was closing (keep-alive races) or an internal
      // error is sent again; a write is not: its first try may have been applied.
      const tries = method === "GET" || method === "HEAD" ? 3 : 1;
      for (let attempt = 1;; attempt++) {
        const signed = await aws.sign(url.toString(), {
          method,
          headers: options.headers,
          body: options.body as Uint8Array<ArrayBuffer> | undefined,
        });
        try {
          const res = await fetch(signed, { signal });
          // "InternalError: please try again" and "SlowDown" are retried, as AWS's SDKs do.
          if ((res.status === 500 || res.status === 503) && attempt < tries) {
            await res.body?.cancel();
            await new Promise((r) => setTimeout(r, 10 * 4 ** attempt));
            continue;
          }
          return res;
        } catch (e) {
          if (timeout.aborted && !options.signal?.aborted) {
            throw new S3Error(
              0,
              "Timeout",
              `${method} ${url.pathname}: no answer within ${options.timeoutMs ?? timeoutMs} ms`,
            );
          }
          if (attempt >= tries || signal.aborted || !(e instanceof TypeError)) throw e;
        }
      }
    },
  };
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/** Decodes the predefined entities and character references of XML text. */
export function xmlText(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith("#x")) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith("#")) return String.fromCodePoint(Number(e.slice(1)));
    return ENTITIES[e] ?? m;
  });
}

/**
 * The text of every `<name>` element of `xml`, in order (elements without children only).
 *
 * @example
 * ```ts
 * xmlValues("<R><Key>a</Key><Key>b&amp;c</Key></R>", "Key"); // ["a", "b&c"]
 * ```
 */
export function xmlValues(xml: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${name}>([^<]*)</${name}>`, "g");
  for (const m of xml.matchAll(re)) out.push(xmlText(m[1]));
  return out;
}

/** The whole `<name>…</name>` blocks of `xml` (for the `<Contents>` of a listing). */
export function xmlBlocks(xml: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g");
  for (const m of xml.matchAll(re)) out.push(m[1]);
  return out;
}

/** Reads the body of a failed response into an {@link S3Error} for `what`. */
export async function s3Failure(res: Response, what: string): Promise<S3Error> {
  const text = await res.text().catch(() => "");
  const code = xmlValues(text, "Code")[0] ?? null;
  const message = xmlValues(text, "Message")[0] ?? text.slice(0, 200);
  return new S3Error(
    res.status,
    code,
    `${what}: ${res.status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`,
  );
}
