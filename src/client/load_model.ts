/**
 * `loadModel`: a model, tensor by tensor in load order (embeddings, blocks, head), each yielded as
 * soon as its SHA-256 is verified. With the compressed transport the manifest and the container
 * are opened at once (one round trip), then the one planner and assembler fetch container spans
 * in load order and decode them here; with the decoded transport the server decodes.
 * Browser-safe.
 * @module
 */
import type { Dtype } from "../../codec/dtype.ts";
import { assemble, type BlockExecutor } from "../container/assemble.ts";
import type { Backends } from "../container/backends.ts";
import { portableBackends } from "../container/portable_backends.ts";
import { ContainerError } from "../container/errors.ts";
import type { TensorEntry } from "../container/index_schema.ts";
import { planBlocks, tensorPiece } from "../container/plan.ts";
import { fetchDecodedTensor } from "./decoded_tensor.ts";
import { ClientError } from "./errors.ts";
import type { Fetch } from "./http.ts";
import { limiter } from "./limiter.ts";
import { fetchManifest, loadOrder, type Manifest, type ManifestTensor } from "./manifest.ts";
import { apiUrl, type ModelRef, parseModelUrl, tensorUrl } from "./model_url.ts";
import { orderedWindow } from "./ordered_window.ts";
import { type LoadProgress, type ProgressMeter, progressMeter } from "./progress_meter.ts";
import type { HttpSourceOptions } from "./http_source.ts";
import { openRemoteContainer, type RemoteContainer } from "./remote_container.ts";

/** How tensor bytes travel: decoded by the server, or as container chunks decoded here. */
export type Transport = "decoded" | "compressed";

/** Options for {@link loadModel}. */
export interface LoadOptions {
  /** Decoded transport: tensors requested at once, and fetched ahead; 4 by default. */
  readonly concurrency?: number;
  /** Called whenever bytes arrive or a tensor is verified. */
  readonly onProgress?: (p: LoadProgress) => void;
  /** Aborts the load; the iterator then throws the signal's reason. */
  readonly signal?: AbortSignal;
  /** `auto` (the default) uses `compressed` when the server offers the container. */
  readonly transport?: Transport | "auto";
  /** The `fetch` to use; the global one by default. */
  readonly fetch?: Fetch;
  /** SHA-256, Zstandard and the chunk kernel; the portable ones by default. */
  readonly backends?: Backends;
  /** Where the compressed transport decodes blocks; this thread by default. */
  readonly executor?: BlockExecutor;
  /** How the container is read over HTTP (span sizes, what the open fetches); for tuning. */
  readonly http?: Omit<HttpSourceOptions, "signal" | "onBytes">;
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
 * Loads the model at `url` (`http://host/v1/models/org/name[?revision=r]`), yielding each tensor
 * in load order once its SHA-256 matches. Breaking out of the loop cancels the requests in
 * flight. A URL that names no model, or a bad `concurrency`, throws at once.
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
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new RangeError(`concurrency must be an integer >= 1: received ${concurrency}`);
  }
  return load(ref, options, concurrency);
}

async function* load(
  ref: ModelRef,
  options: LoadOptions,
  concurrency: number,
): AsyncGenerator<LoadedTensor> {
  const fetchFn: Fetch = options.fetch ?? ((input, init) => fetch(input, init));
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  try {
    const { manifest, source } = await openSource(fetchFn, ref, options, signal);
    const order = loadOrder(manifest);
    const meter = progressMeter(
      {
        bytesTotal: order.reduce((n, t) => n + t.rawBytes, 0),
        tensorsTotal: order.length,
        transport: source.transport,
      },
      options.onProgress,
    );
    const tensors = source.transport === "decoded"
      ? decodedTensors(fetchFn, ref, order, meter, concurrency, signal)
      : compressedTensors(source.container, order, meter, options, signal);
    let next = 0;
    if (order.length > 0) meter.layer(order[0].layer);
    for await (const bytes of tensors) {
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

/** The decoded transport: each tensor from the server, `concurrency` at a time, in order. */
function decodedTensors(
  fetchFn: Fetch,
  ref: ModelRef,
  order: ManifestTensor[],
  meter: ProgressMeter,
  concurrency: number,
  signal: AbortSignal,
): AsyncIterable<Uint8Array> {
  const limit = limiter(concurrency);
  return orderedWindow(
    order,
    concurrency,
    (t) =>
      fetchDecodedTensor(fetchFn, tensorUrl(ref, t.name), t, {
        signal,
        limit,
        onBytes: (n) => meter.add(n, n),
      }),
  );
}

/**
 * The compressed transport: the tensors of `order` planned as one body (each tensor in blocks of
 * its own), assembled from container spans, each tensor checked against its SHA-256.
 */
async function* compressedTensors(
  c: RemoteContainer,
  order: ManifestTensor[],
  meter: ProgressMeter,
  options: LoadOptions,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const entries = order.map((t) => c.tensors.get(t.name)!);
  const blocks = planBlocks(entries.map(tensorPiece), { pieceAligned: true });
  const parts = assemble(c, blocks, {
    executor: options.executor,
    signal,
    onStoredBytes: (n) => meter.add(0, n),
  });
  try {
    for (const t of entries) yield await gather(c, t, parts, meter);
  } finally {
    await parts.return(undefined);
  }
}

/** The bytes of tensor `t` from the next blocks of `parts`, checked against its SHA-256. */
async function gather(
  c: RemoteContainer,
  t: TensorEntry,
  parts: AsyncGenerator<Uint8Array>,
  meter: ProgressMeter,
): Promise<Uint8Array> {
  {
    const size = t.offsets[1] - t.offsets[0];
    let bytes: Uint8Array = new Uint8Array(0);
    for (let got = 0; got < size;) {
      const n = await parts.next();
      if (n.done) throw new Error(`the plan ended inside tensor "${t.name}"`);
      // A tensor of one block is that block; a larger one is gathered.
      if (got === 0 && n.value.length === size) bytes = n.value;
      else {
        if (got === 0) bytes = new Uint8Array(size);
        bytes.set(n.value, got);
      }
      got += n.value.length;
      meter.add(n.value.length, 0);
    }
    const h = c.backends.sha256();
    h.update(bytes);
    const digest = h.hex();
    if (digest !== t.sha256) {
      throw new ContainerError(
        "digest_mismatch",
        `tensor "${t.name}": decoded bytes hash to ${digest}, the index says ${t.sha256}`,
      );
    }
    return bytes;
  }
}

/** Where tensor bytes come from, and the manifest that lists them. */
export type TensorSource =
  | { readonly transport: "decoded" }
  | { readonly transport: "compressed"; readonly container: RemoteContainer };

/**
 * Fetches the manifest and, unless the transport is `decoded`, opens the container at the same
 * time (the conventional URL `…/container?revision=`), checking that both describe the same file.
 * With `auto`, a server that offers no container gets the decoded transport.
 */
export async function openSource(
  fetchFn: Fetch,
  ref: ModelRef,
  options: Pick<LoadOptions, "transport" | "backends" | "http">,
  signal?: AbortSignal,
): Promise<{ manifest: Manifest; source: TensorSource }> {
  const wanted = options.transport ?? "auto";
  const manifestP = fetchManifest(fetchFn, ref, signal);
  if (wanted === "decoded") return { manifest: await manifestP, source: { transport: "decoded" } };
  const containerP = openRemoteContainer(fetchFn, apiUrl(ref, "/container"), {
    ...options.http,
    signal,
    backends: options.backends ?? portableBackends,
  });
  containerP.catch(() => {}); // awaited below, after the manifest
  const manifest = await manifestP;
  let container: RemoteContainer;
  try {
    container = await containerP;
  } catch (e) {
    if (wanted === "auto" && e instanceof ClientError && e.kind === "http") {
      return { manifest, source: { transport: "decoded" } };
    }
    throw e;
  }
  checkAgreement(manifest, container);
  return { manifest, source: { transport: "compressed", container } };
}

function checkAgreement(manifest: Manifest, c: RemoteContainer): void {
  const fail = (what: string) => {
    throw new ClientError("manifest_mismatch", `${c.source.url}: ${what}`);
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
