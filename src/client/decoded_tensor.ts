/**
 * Fetches one tensor decoded by the server and checks its SHA-256. Browser-safe.
 * @module
 */
import { ContainerError } from "../container/errors.ts";
import { ClientError } from "./errors.ts";
import { type Fetch, readExact, request } from "./http.ts";
import type { Limiter } from "./limiter.ts";
import type { ManifestTensor } from "./manifest.ts";
import { webSha256Hex } from "./web_sha256.ts";

/** Options for {@link fetchDecodedTensor}. */
export interface DecodedTensorOptions {
  /** Aborts the request. */
  readonly signal?: AbortSignal;
  /** Bounds the requests in flight, shared with other tensors. */
  readonly limit: Limiter;
  /** Called with the size of each piece of the body as it arrives. */
  readonly onBytes?: (n: number) => void;
}

/**
 * GETs `url` (a `/tensors/{name}` URL) and returns exactly `t.rawBytes` bytes whose SHA-256 is
 * `t.sha256`.
 *
 * @example
 * ```ts ignore
 * import { fetchDecodedTensor } from "./decoded_tensor.ts";
 * import { limiter } from "./limiter.ts";
 * const bytes = await fetchDecodedTensor(fetch, url, manifestTensor, { limit: limiter(4) });
 * ```
 */
export function fetchDecodedTensor(
  fetchFn: Fetch,
  url: string,
  t: ManifestTensor,
  options: DecodedTensorOptions,
): Promise<Uint8Array> {
  return options.limit(async () => {
    options.signal?.throwIfAborted();
    const res = await request(fetchFn, url, { signal: options.signal });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new ClientError("bad_response", `GET ${url}: expected 200, received ${res.status}`);
    }
    const bytes = await readExact(res, t.rawBytes, `GET ${url}`, options.onBytes);
    const digest = await webSha256Hex(bytes);
    if (digest !== t.sha256) {
      throw new ContainerError(
        "digest_mismatch",
        `tensor "${t.name}": received bytes hash to ${digest}, the manifest says ${t.sha256}`,
      );
    }
    return bytes;
  });
}
