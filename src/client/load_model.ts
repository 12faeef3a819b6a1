/**
 * `loadModel`: a model, tensor by tensor in load order (embeddings, blocks, head), each yielded as
 * soon as its SHA-256 is verified. Browser-safe.
 * @module
 */
import type { Dtype } from "../../codec/dtype.ts";
import type { ZstdDecompress } from "../../codec/zstd_decode.ts";
import { fetchCompressedTensor } from "./compressed_tensor.ts";
import { fetchDecodedTensor } from "./decoded_tensor.ts";
import { ClientError } from "./errors.ts";
import type { Fetch } from "./http.ts";
import { type Limiter, limiter } from "./limiter.ts";
import { fetchManifest, loadOrder, type Manifest, type ManifestTensor } from "./manifest.ts";
import { apiUrl, type ModelRef, parseModelUrl, tensorUrl } from "./model_url.ts";
import { orderedWindow } from "./ordered_window.ts";
import { type LoadProgress, progressMeter } from "./progress_meter.ts";
import { openRemoteContainer, type RemoteContainer } from "./remote_container.ts";

/** How tensor bytes travel: decoded by the server, or as container chunks decoded here. */
export type Transport = "decoded" | "compressed";

/** Options for {@link loadModel}. */
export interface LoadOptions {
  /** Requests in flight, and tensors fetched ahead of the one being yielded; 4 by default. */
  readonly concurrency?: number;
  /** Called whenever bytes arrive or a tensor is verified. */
  readonly onProgress?: (p: LoadProgress) => void;
  /** Aborts the load; the iterator then throws the signal's reason. */
  readonly signal?: AbortSignal;
  /** `auto` (the default) uses `compressed` when the server offers the container. */
  readonly transport?: Transport | "auto";
  /** The `fetch` to use; the global one by default. */
  readonly fetch?: Fetch;
  /** Zstandard decoder for the compressed transport; the portable one by default. */
  readonly zstdDecompress?: ZstdDecompress;
}

/** One verified tensor. */
export interface LoadedTensor {
  /** Name in the safetensors header. */
  readonly name: string;
  /** Element type. */
  readonly dtype: Dtype;
  /** Dimensions. */
  readonly shape: readonly number[];
  /** Row-major little-endian bytes, exactly as in the original file. */
  readonly bytes: Uint8Array;
  /** Key of the layer the tensor belongs to. */
  readonly layer: string;
}

/**
 * Loads the model at `url` (`http://host/v1/models/org/name[?revision=r]`). Fetches the manifest,
 * then tensors layer by layer, `concurrency` at a time, and yields each in load order once its
 * SHA-256 matches the manifest. Breaking out of the loop cancels the requests in flight. A URL
 * that names no model, or a bad `concurrency`, throws at once.
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "./load_model.ts";
 * for await (const t of loadModel("http://127.0.0.1:8080/v1/models/demo/stories260k")) {
 *   console.log(t.layer, t.name, t.dtype, t.shape, t.bytes.length);
 * }
 * ```
 */
export function loadModel(
  url: string | URL,
  options: LoadOptions = {},
): AsyncGenerator<LoadedTensor> {
  const ref = parseModelUrl(url);
  const concurrency = options.concurrency ?? 4;
  return load(ref, options, concurrency, limiter(concurrency));
}

async function* load(
  ref: ModelRef,
  options: LoadOptions,
  concurrency: number,
  limit: Limiter,
): AsyncGenerator<LoadedTensor> {
  const fetchFn: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  try {
    const manifest = await fetchManifest(fetchFn, ref, signal);
    const source = await openSource(fetchFn, ref, manifest, options, signal);
    const order = loadOrder(manifest);
    const meter = progressMeter(
      {
        bytesTotal: order.reduce((n, t) => n + t.rawBytes, 0),
        tensorsTotal: order.length,
        transport: source.transport,
      },
      options.onProgress,
    );
    const fetchOne = (t: ManifestTensor) => {
      if (source.transport === "decoded") {
        return fetchDecodedTensor(fetchFn, tensorUrl(ref, t.name), t, {
          signal,
          limit,
          onBytes: (n) => meter.add(n, n),
        });
      }
      return fetchCompressedTensor(
        fetchFn,
        source.container,
        source.container.tensors.get(t.name)!,
        {
          signal,
          limit,
          zstdDecompress: options.zstdDecompress,
          onWireBytes: (n) => meter.add(0, n),
          onRawBytes: (n) => meter.add(n, 0),
        },
      );
    };
    let next = 0;
    if (order.length > 0) meter.layer(order[0].layer);
    for await (const bytes of orderedWindow(order, concurrency, fetchOne)) {
      signal.throwIfAborted();
      const t = order[next++];
      if (next < order.length) meter.layer(order[next].layer);
      meter.tensor();
      yield { name: t.name, dtype: t.dtype, shape: t.shape, bytes, layer: t.layer };
    }
  } catch (e) {
    if (signal.aborted && options.signal?.aborted) throw options.signal.reason;
    throw e;
  } finally {
    stop.abort();
  }
}

/** Where tensor bytes come from. */
export type TensorSource =
  | { readonly transport: "decoded" }
  | { readonly transport: "compressed"; readonly container: RemoteContainer };

/**
 * Chooses the transport and, for `compressed`, opens the container and checks that it describes
 * the same file as the manifest.
 */
export async function openSource(
  fetchFn: Fetch,
  ref: ModelRef,
  manifest: Manifest,
  options: Pick<LoadOptions, "transport" | "zstdDecompress">,
  signal?: AbortSignal,
): Promise<TensorSource> {
  const wanted = options.transport ?? "auto";
  if (wanted === "decoded") return { transport: "decoded" };
  const url = containerUrl(ref, manifest);
  if (wanted === "auto" && !(await offersContainer(fetchFn, url, signal))) {
    return { transport: "decoded" };
  }
  const container = await openRemoteContainer(fetchFn, url, {
    signal,
    zstdDecompress: options.zstdDecompress,
  });
  checkAgreement(manifest, container);
  return { transport: "compressed", container };
}

/** The container URL: the manifest's, resolved against the API, else the conventional one. */
export function containerUrl(ref: ModelRef, manifest: Manifest): string {
  const fallback = apiUrl(ref, "/container");
  const given = manifest.container?.url;
  return given ? new URL(given, fallback).href : fallback;
}

async function offersContainer(
  fetchFn: Fetch,
  url: string,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    const res = await fetchFn(url, { method: "HEAD", signal });
    await res.body?.cancel();
    return res.status === 200;
  } catch (e) {
    if (signal?.aborted) throw e;
    return false;
  }
}

function checkAgreement(manifest: Manifest, c: RemoteContainer): void {
  const fail = (what: string) => {
    throw new ClientError("manifest_mismatch", `${c.url}: ${what}`);
  };
  if (c.index.source.sha256 !== manifest.sha256 || c.index.source.size !== manifest.size) {
    fail(`container holds file ${c.index.source.sha256}, the manifest names ${manifest.sha256}`);
  }
  for (const t of manifest.tensors) {
    const e = c.tensors.get(t.name);
    if (!e) fail(`tensor "${t.name}" is in the manifest but not in the container`);
    else if (
      e.sha256 !== t.sha256 || e.dtype !== t.dtype || e.shape.join() !== t.shape.join() ||
      e.offsets[0] !== t.offsets[0] || e.offsets[1] !== t.offsets[1]
    ) {
      fail(`tensor "${t.name}" differs between the manifest and the container index`);
    }
  }
}
