/**
 * The Tessera client, for browsers and Deno: load a model progressively from a Tessera server, or
 * rebuild its original file, verifying every byte. Nothing here touches `Deno.*`; the Deno-only
 * extras are in `deno_native.ts`.
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
export { type LoadedTensor, loadModel, type LoadOptions, type Transport } from "./load_model.ts";
export { fetchManifest, type Manifest, type ManifestTensor } from "./manifest.ts";
export { type ModelRef, parseModelUrl } from "./model_url.ts";
export type { LoadProgress } from "./progress_meter.ts";
export {
  openRemoteContainer,
  type RemoteContainer,
  type RemoteOptions,
} from "./remote_container.ts";
export {
  type OriginalStreamOptions,
  type ResumePoint,
  resumePoint,
  streamOriginal,
} from "./original_stream.ts";
export type { Dtype } from "../../codec/dtype.ts";
export type { ZstdDecompress } from "../../codec/zstd_decode.ts";
export type { Head } from "../container/format.ts";
export type { Index, TensorEntry } from "../container/index_schema.ts";
