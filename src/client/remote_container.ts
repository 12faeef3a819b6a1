/**
 * Opens a `.tsr` container over HTTP with the one reader: an {@link HttpSource} (one round trip
 * for the head, the original header and the index) and the injected backends. Browser-safe.
 * @module
 */
import type { Backends } from "../container/backends.ts";
import { portableBackends } from "../container/portable_backends.ts";
import { type Container, openContainer } from "../container/open.ts";
import type { Fetch } from "./http.ts";
import { type HttpSource, type HttpSourceOptions, openHttpSource } from "./http_source.ts";

/** A container read over HTTP. */
export interface RemoteContainer extends Container {
  /** The HTTP source behind it. */
  readonly source: HttpSource;
}

/** Options for {@link openRemoteContainer}: the HTTP source's, and the backends. */
export interface RemoteOptions extends HttpSourceOptions {
  /** SHA-256, Zstandard and the chunk kernel; the portable ones by default. */
  readonly backends?: Backends;
}

/**
 * Opens the container at `url`.
 *
 * @example
 * ```ts ignore
 * import { openRemoteContainer } from "./remote_container.ts";
 * const c = await openRemoteContainer(fetch, "http://127.0.0.1:8080/v1/models/demo/m/container");
 * console.log(c.index.tensors.length);
 * ```
 */
export async function openRemoteContainer(
  fetchFn: Fetch,
  url: string,
  options: RemoteOptions = {},
): Promise<RemoteContainer> {
  const source = await openHttpSource(fetchFn, url, options);
  const c = await openContainer(source, options.backends ?? portableBackends);
  return { ...c, source };
}
