/**
 * Model URLs: parsing what a user types into a {@link ModelRef}, and building the server's URLs
 * from one. Browser-safe.
 * @module
 */
import { ClientError } from "./errors.ts";

/** A model on a Tessera server, at one revision. */
export interface ModelRef {
  /** Origin plus any path prefix the server is mounted under, without a trailing slash. */
  readonly base: string;
  /** Organisation, the first half of the model id. */
  readonly org: string;
  /** Model name, the second half of the model id. */
  readonly name: string;
  /** `org/name`. */
  readonly id: string;
  /** Branch, tag or commit; `main` unless the URL names one. */
  readonly revision: string;
}

/** The revision used when a URL names none. */
export const DEFAULT_REVISION = "main";

/**
 * Parses `http://host/v1/models/org/name[/manifest][?revision=r]` or
 * `http://host/org/name[/tree/r][?revision=r]`.
 *
 * @example
 * ```ts
 * import { parseModelUrl } from "./model_url.ts";
 * const ref = parseModelUrl("http://127.0.0.1:8080/v1/models/demo/stories260k?revision=v2");
 * console.assert(ref.id === "demo/stories260k" && ref.revision === "v2");
 * ```
 */
export function parseModelUrl(url: string | URL): ModelRef {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ClientError("bad_url", `expected an http(s) model URL: received "${url}"`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ClientError("bad_url", `expected an http(s) model URL: received "${url}"`);
  }
  const segments = u.pathname.split("/");
  let decoded: string[];
  try {
    decoded = segments.map(decodeURIComponent);
  } catch {
    throw new ClientError("bad_url", `model URL has malformed percent-encoding: "${url}"`);
  }
  let prefix: string[], rest: string[];
  const api = segments.findIndex((s, i) => s === "v1" && segments[i + 1] === "models");
  if (api >= 0) {
    prefix = segments.slice(0, api);
    rest = decoded.slice(api + 2).filter((s, i, all) => s !== "" || i < all.length - 1);
    if (rest.length === 3 && rest[2] === "manifest") rest = rest.slice(0, 2);
  } else {
    prefix = [""];
    rest = decoded.slice(1).filter((s, i, all) => s !== "" || i < all.length - 1);
    if (rest.length === 4 && rest[2] === "tree") {
      if (!u.searchParams.has("revision")) u.searchParams.set("revision", rest[3]);
      rest = rest.slice(0, 2);
    }
  }
  if (rest.length !== 2 || rest.some((s) => s === "" || s === "." || s === "..")) {
    throw new ClientError(
      "bad_url",
      `expected http://host/v1/models/org/name or http://host/org/name: received "${url}"`,
    );
  }
  const [org, name] = rest;
  return {
    base: `${u.origin}${prefix.join("/")}`,
    org,
    name,
    id: `${org}/${name}`,
    revision: u.searchParams.get("revision") || DEFAULT_REVISION,
  };
}

/** `base/v1/models/org/name{suffix}?revision=r`; `suffix` is already URL-encoded. */
export function apiUrl(ref: ModelRef, suffix = ""): string {
  const q = new URLSearchParams({ revision: ref.revision });
  return `${ref.base}/v1/models/${encodeURIComponent(ref.org)}/${
    encodeURIComponent(ref.name)
  }${suffix}?${q}`;
}

/** URL of one decoded tensor. */
export function tensorUrl(ref: ModelRef, tensor: string): string {
  return apiUrl(ref, `/tensors/${encodeURIComponent(tensor)}`);
}

/** The Hugging Face-compatible URL of a file of the model: `base/org/name/resolve/r/file`. */
export function resolveUrl(ref: ModelRef, file = "model.safetensors"): string {
  return `${ref.base}/${encodeURIComponent(ref.org)}/${encodeURIComponent(ref.name)}/resolve/${
    encodeURIComponent(ref.revision)
  }/${file.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * The variant a revision names (`main@int8` names `int8` of `main`), or null; variant names hold
 * neither `@` nor `/`, and branch names no `@`.
 *
 * @example
 * ```ts
 * import { revisionVariant } from "./model_url.ts";
 * console.assert(revisionVariant("main@int8")?.variant === "int8");
 * ```
 */
export function revisionVariant(revision: string): { stored: string; variant: string } | null {
  const at = revision.lastIndexOf("@");
  if (at < 0) return null;
  return { stored: revision.slice(0, at), variant: revision.slice(at + 1) };
}

/**
 * `ref` at the variant revision of `variant` (`main` becomes `main@int8`); `ref` itself when
 * `variant` is null. A revision that already names another variant is a `bad_url` error.
 */
export function withVariant(ref: ModelRef, variant: string | null | undefined): ModelRef {
  const named = revisionVariant(ref.revision);
  if (!variant) return ref;
  if (named) {
    if (named.variant === variant) return ref;
    throw new ClientError(
      "bad_url",
      `revision ${ref.revision} names variant ${named.variant}, not ${variant}`,
    );
  }
  return { ...ref, revision: `${ref.revision}@${variant}` };
}
