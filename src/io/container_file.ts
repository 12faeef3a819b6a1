/**
 * Opens a container file with the native backends: the CLI's way in to the one reader.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import type { Backends } from "../container/backends.ts";
import { type Container, openContainer } from "../container/open.ts";
import { openFileReader } from "./random_access.ts";

/**
 * Opens the container file at `path`. The caller closes `container.source`.
 *
 * @example
 * ```ts ignore
 * const c = await openContainerFile("model.tsr");
 * try { console.log(c.index.tensors.length); } finally { c.source.close(); }
 * ```
 */
export async function openContainerFile(
  path: string,
  backends: Backends = nativeBackends(),
): Promise<Container> {
  const source = await openFileReader(path);
  try {
    return await openContainer(source, backends);
  } catch (e) {
    source.close();
    throw e;
  }
}
