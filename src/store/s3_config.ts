/**
 * Where an S3 store lives and how to reach it: the bucket and key prefix from `s3://bucket/prefix`,
 * and the endpoint, region and credentials from the standard AWS environment variables:
 *
 * | variable                                      | use                                              |
 * | --------------------------------------------- | ------------------------------------------------ |
 * | `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` | the endpoint (MinIO, an emulator); AWS when unset |
 * | `AWS_REGION`, else `AWS_DEFAULT_REGION`        | the signing region; `us-east-1` when unset        |
 * | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`   | credentials (required)                           |
 * | `AWS_SESSION_TOKEN`                           | temporary credentials                             |
 * | `AWS_S3_FORCE_PATH_STYLE`                     | `true` / `false` overrides the addressing style   |
 *
 * Addressing: AWS itself is addressed virtual-hosted (`https://bucket.s3.region.amazonaws.com/key`)
 * unless the bucket name has a dot (TLS certificates do not cover it); any other endpoint is
 * addressed path-style (`http://host:port/bucket/key`), which every S3-compatible server accepts
 * and which needs no wildcard DNS.
 * @module
 */
import { StoreError } from "./errors.ts";

/** Everything needed to sign and send requests to one bucket. */
export interface S3Config {
  /** Bucket name. */
  readonly bucket: string;
  /** Key prefix of the store within the bucket, without a trailing `/`; empty for the root. */
  readonly prefix: string;
  /** Base URL requests go to: the bucket's own host (virtual-hosted) or the endpoint. */
  readonly endpoint: string;
  /** Whether the bucket is the first path segment. */
  readonly pathStyle: boolean;
  /** Signing region. */
  readonly region: string;
  /** Access key id. */
  readonly accessKeyId: string;
  /** Secret access key. */
  readonly secretAccessKey: string;
  /** Session token of temporary credentials. */
  readonly sessionToken?: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * The bucket and prefix of `s3://bucket/prefix`, or null for another scheme.
 *
 * @example
 * ```ts
 * parseS3Url("s3://models/hub/v1"); // { bucket: "models", prefix: "hub/v1" }
 * ```
 */
export function parseS3Url(url: string): { bucket: string; prefix: string } | null {
  const m = /^s3:\/\/([^/?#]+)(\/[^?#]*)?$/.exec(url);
  if (!m) {
    if (url.startsWith("s3:")) {
      throw new StoreError("bad_name", `not an S3 store URL: ${url} (expected s3://bucket/prefix)`);
    }
    return null;
  }
  const bucket = m[1];
  if (!BUCKET.test(bucket) || bucket.includes("..")) {
    throw new StoreError("bad_name", `not a valid bucket name: ${JSON.stringify(bucket)}`);
  }
  const prefix = (m[2] ?? "").replace(/^\/+|\/+$/g, "");
  if (
    prefix !== "" &&
    (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(prefix) ||
      prefix.split("/").some((s) => s === "." || s === ".."))
  ) {
    throw new StoreError(
      "bad_name",
      `the key prefix ${JSON.stringify(prefix)} must be segments of letters, digits and ._-`,
    );
  }
  return { bucket, prefix };
}

/**
 * The configuration of the store at `url` from environment `env`.
 *
 * @example
 * ```ts
 * const c = s3ConfigFromEnv("s3://models/hub", {
 *   AWS_ENDPOINT_URL: "http://127.0.0.1:9000",
 *   AWS_ACCESS_KEY_ID: "minio",
 *   AWS_SECRET_ACCESS_KEY: "minio123",
 * });
 * c.pathStyle; // true
 * ```
 */
export function s3ConfigFromEnv(
  url: string,
  env: Record<string, string | undefined>,
): S3Config {
  const where = parseS3Url(url);
  if (!where) throw new StoreError("bad_name", `not an S3 store URL: ${url}`);
  const accessKeyId = env.AWS_ACCESS_KEY_ID, secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new StoreError(
      "bad_name",
      `${url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for a ` +
        "store other than AWS)",
    );
  }
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
  const custom = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  let endpoint: string, pathStyle: boolean;
  const forced = env.AWS_S3_FORCE_PATH_STYLE?.toLowerCase();
  if (custom) {
    let u: URL;
    try {
      u = new URL(custom);
    } catch {
      throw new StoreError("bad_name", `AWS_ENDPOINT_URL is not a URL: ${custom}`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new StoreError("bad_name", `AWS_ENDPOINT_URL must be http or https: ${custom}`);
    }
    endpoint = u.origin + u.pathname.replace(/\/+$/, "");
    pathStyle = forced !== "false";
  } else {
    endpoint = `https://s3.${region}.amazonaws.com`;
    pathStyle = forced === "true" || where.bucket.includes(".");
  }
  if (!pathStyle) {
    const u = new URL(endpoint);
    u.hostname = `${where.bucket}.${u.hostname}`;
    endpoint = u.origin + u.pathname.replace(/\/+$/, "");
  }
  return {
    ...where,
    endpoint,
    pathStyle,
    region,
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN && { sessionToken: env.AWS_SESSION_TOKEN }),
  };
}
