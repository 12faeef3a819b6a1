/**
 * The Tessera client, for browsers and Deno: load a model progressively from a Tessera server, or
 * open its container over HTTP and read any tensor, tile or byte range of the original file with
 * the one reader, verifying every byte. Nothing here touches `Deno.*`; the Deno-only extras
 * (native kernels, decode threads) are in `deno_native.ts`.
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "./mod.ts";
 * const url = "http://127.0.0.1:8080/v1/models/demo/stories260k";
 * for await (const t of loadModel(url, { onProgress: (p) => console.log(p.layer, p.mbPerSec) })) {
 *   console.log(t.name, t.dtype, t.shape);
 * }
 * ```
 * @module
 */
export { ClientError, type ClientErrorKind } from "./errors.ts";
export type { Fetch } from "./http.ts";
export { type HttpSource, openHttpSource } from "./http_source.ts";
export { type LoadedTensor, loadModel, type LoadOptions, type Transport } from "./load_model.ts";
export { fetchManifest, type Manifest, type ManifestTensor } from "./manifest.ts";
export { type ModelRef, parseModelUrl } from "./model_url.ts";
export type { LoadProgress } from "./progress_meter.ts";
export {
  openRemoteContainer,
  type RemoteContainer,
  type RemoteOptions,
} from "./remote_container.ts";
export type { Dtype } from "../../codec/dtype.ts";
export type { Backends } from "../container/backends.ts";
export { portableBackends } from "../container/portable_backends.ts";
export { ContainerError, type ContainerErrorKind } from "../container/errors.ts";
export type { Container } from "../container/open.ts";
export type { Index, TensorEntry } from "../container/index_schema.ts";
export { readRegion, streamOriginal, tensorOf } from "../container/read.ts";
