/**
 * `loadModel`: a model, tensor by tensor in load order (embeddings, blocks, head), each yielded as
 * soon as its SHA-256 is verified. With the compressed transport the container is opened in one
 * round trip whose first response streams on (the head, the original header, then the chunks in
 * container order, which for most models is load order), so the first layer's bytes arrive in the
 * same round trip as the head; the one planner and assembler read spans in load order from that
 * stream (Range requests for what is not next in it) and decode them here. With the decoded
 * transport the server decodes. Browser-safe.
 * @module
 */
import { guardStalls } from "./stall_guard.ts";
import type { Dtype } from "../../codec/dtype.ts";
import { assemble, type BlockExecutor } from "../container/assemble.ts";
import type { Backends } from "../container/backends.ts";
import { portableBackends } from "../container/portable_backends.ts";
import { ContainerError } from "../container/errors.ts";
import type { TensorEntry } from "../container/index_schema.ts";
import { planBlocks, variantTensorPiece } from "../container/plan.ts";
import { lossyEncodingOf } from "../container/variant_index.ts";
import type { LossyEncoding } from "../../codec/variants/encoding.ts";
import { variantEntry } from "../container/variant_read.ts";
import { fetchDecodedTensor } from "./decoded_tensor.ts";
import { ClientError } from "./errors.ts";
import type { Fetch } from "./http.ts";
import { limiter } from "./limiter.ts";
import {
  fetchManifest,
  loadOrder,
  type Manifest,
  type ManifestTensor,
  singleFile,
} from "./manifest.ts";
import {
  apiUrl,
  type ModelRef,
  parseModelUrl,
  revisionVariant,
  tensorUrl,
  withVariant,
} from "./model_url.ts";
import { orderedWindow } from "./ordered_window.ts";
import { nextTurn } from "./timer.ts";
import { type LoadProgress, type ProgressMeter, progressMeter } from "./progress_meter.ts";
import type { HttpSourceOptions } from "./http_source.ts";
import { linkPacer } from "./link_pacer.ts";
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
  /**
   * `auto` (the default) uses `compressed` when the server offers the container, the link, as
   * measured while the container opens, is slower than {@link AUTO_DECODED_FROM}, and the bytes
   * saved take at least {@link AUTO_MIN_SAVING_S} on it.
   */
  readonly transport?: Transport | "auto";
  /** The `fetch` to use; the global one by default. */
  readonly fetch?: Fetch;
  /**
   * Milliseconds the load waits for a server that has stopped sending (response headers, or the
   * next bytes of a body) before it fails with a `stalled` ClientError; 30 s (`STALL_MS`) by
   * default, 0 for no limit.
   */
  readonly stallMs?: number;
  /** SHA-256, Zstandard and the chunk kernel; the portable ones by default. */
  readonly backends?: Backends;
  /** Where the compressed transport decodes blocks; this thread by default. */
  readonly executor?: BlockExecutor;
  /** How the container is read over HTTP (span sizes, what the open fetches); for tuning. */
  readonly http?: Omit<HttpSourceOptions, "signal" | "onBytes">;
  /**
   * Load this variant of the model: each tensor dequantised to its dtype (a tensor the variant
   * keeps exact, as it is), checked against the variant's digests. The compressed transport
   * plans and fetches only the chunks the variant reads. A revision `main@int8` in the URL names
   * one too.
   */
  readonly variant?: string;
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
  const ref = withVariant(parseModelUrl(url), options.variant);
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
  const fetchFn = guardStalls(
    options.fetch ?? ((input, init) => fetch(input, init)),
    options.stallMs,
  );
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  try {
    const source = await openSource(fetchFn, ref, options, signal);
    const manifestOrder = source.transport === "decoded" ? loadOrder(source.manifest) : [];
    const order: readonly LoadEntry[] = source.transport === "decoded"
      ? manifestOrder
      : source.manifest
      ? loadOrder(source.manifest)
      : indexLoadOrder(source.containers.get("")!);
    const meter = progressMeter(
      {
        bytesTotal: order.reduce((n, t) => n + t.rawBytes, 0),
        tensorsTotal: order.length,
        transport: source.transport,
      },
      options.onProgress,
    );
    const tensors = source.transport === "decoded"
      ? decodedTensors(fetchFn, ref, manifestOrder, meter, concurrency, signal)
      : compressedTensors(source.containers, order, meter, options, signal, variantName(ref));
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

/** The variant `ref`'s revision names, or null. */
function variantName(ref: ModelRef): string | null {
  return revisionVariant(ref.revision)?.variant ?? null;
}

/**
 * The compressed transport: the tensors of `order` planned as one body per container (each tensor
 * in blocks of its own; under `variant`, its variant pieces, so only the variant's chunks are
 * fetched), assembled from container spans, each tensor checked against its SHA-256 (the
 * variant's). Tensors of a sharded repo come from their file's container, in the manifest's load
 * order; a run of tensors of one file is one body, so spans keep coalescing within a shard.
 *
 * The first layer is a body of its own, so that no span of it reaches into the second layer's
 * bytes: its last span would otherwise end megabytes later, and the first layer wait for them (a
 * 5.9 MB embedding on 100 Mbit/s waited 0.2 s for 2.5 MB of the next layer). The second body is
 * planned once the first layer is yielded; each later body's reads start while the body before it
 * delivers its last tensor, so the link does not idle between them.
 */
async function* compressedTensors(
  containers: ReadonlyMap<string, RemoteContainer>,
  order: readonly LoadEntry[],
  meter: ProgressMeter,
  options: LoadOptions,
  signal: AbortSignal,
  variant: string | null,
): AsyncGenerator<Uint8Array> {
  const bodies: { at: number; end: number }[] = [];
  for (let at = 0; at < order.length;) {
    const file = order[at].file ?? "";
    let end = at + 1;
    while (end < order.length && (order[end].file ?? "") === file) end++;
    if (at === 0) {
      let cut = 1;
      while (cut < end && order[cut].layer === order[0].layer) cut++;
      end = cut;
    }
    bodies.push({ at, end });
    at = end;
  }
  const start = (k: number): Body => {
    const { at, end } = bodies[k];
    const file = order[at].file ?? "";
    const c = containers.get(file);
    if (!c) throw new ClientError("bad_response", `no container for file "${file}"`);
    const entries = order.slice(at, end).map((t) => {
      const e = c.tensors.get(t.name);
      if (!e) {
        throw new ClientError("manifest_mismatch", `${c.source.url} holds no tensor "${t.name}"`);
      }
      return e;
    });
    if (variant !== null) variantEntry(c, variant);
    const encodings = entries.map((t) => variant === null ? null : lossyEncodingOf(t, variant));
    const pieces = entries.map((t, i) => variantTensorPiece(t, encodings[i]));
    const blocks = planBlocks(pieces, { pieceAligned: true });
    const parts = primed(assemble(c, blocks, {
      executor: options.executor,
      signal,
      onStoredBytes: (n) => meter.add(0, n),
    }));
    return { c, entries, encodings, parts };
  };
  /** Body `k`, started on a timer (see below); its failure is thrown where it is awaited. */
  const startSoon = (k: number): Promise<Body> => {
    const body = nextTurn().then(() => start(k));
    body.catch(() => {}); // awaited below; a body never reached must not go unhandled
    return body;
  };
  let next: Promise<Body> | undefined;
  try {
    for (let k = 0; k < bodies.length; k++) {
      const body = next ? await next : start(k);
      next = undefined;
      const { c, entries, encodings, parts } = body;
      try {
        for (const [i, t] of entries.entries()) {
          const last = i === entries.length - 1 && k + 1 < bodies.length;
          if (last && k > 0) next = startSoon(k + 1);
          const bytes = await gather(c, t, encodings[i]?.sha256 ?? t.sha256, parts, meter);
          // The body after the first layer is planned once that layer is in, on a timer, so
          // after it is yielded: planning the other 1,183 tensors of human-fp32.bf16 took 45 ms
          // of this thread, and done before the first layer's request (as it was) or while its
          // bytes arrived, it held the first layer back by as much. The stream reads on
          // meanwhile (one span ahead), so the link does not idle for it.
          if (last && k === 0) next = startSoon(k + 1);
          yield bytes;
        }
      } finally {
        await parts.return(undefined);
      }
    }
  } finally {
    const pending = await next?.catch(() => undefined);
    await pending?.parts.return(undefined);
  }
}

/** One body of {@link compressedTensors}: its container, tensors and assembled blocks. */
interface Body {
  readonly c: RemoteContainer;
  readonly entries: TensorEntry[];
  readonly encodings: (LossyEncoding | null)[];
  readonly parts: AsyncGenerator<Uint8Array>;
}

/**
 * `gen` with its first step taken at once: an assembler starts its reads on its first step, so a
 * body primed this way fetches while the one before it is still being delivered.
 */
function primed<T>(gen: AsyncGenerator<T>): AsyncGenerator<T> {
  const first = gen.next();
  first.catch(() => {}); // awaited by the first next(); a body never consumed must not go unhandled
  let taken = false;
  const it: AsyncGenerator<T> = {
    next: () => {
      if (taken) return gen.next();
      taken = true;
      return first;
    },
    return: (value) => gen.return(value),
    throw: (e) => gen.throw(e),
    [Symbol.asyncIterator]: () => it,
    [Symbol.asyncDispose]: () => gen[Symbol.asyncDispose](),
  };
  return it;
}

/** The bytes of tensor `t` from the next blocks of `parts`, checked against `sha256`. */
async function gather(
  c: RemoteContainer,
  t: TensorEntry,
  sha256: string,
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
    if (digest !== sha256) {
      throw new ContainerError(
        "digest_mismatch",
        `tensor "${t.name}": decoded bytes hash to ${digest}, the index says ${sha256}`,
      );
    }
    return bytes;
  }
}

/**
 * Where tensor bytes come from: the server, which decodes them (listed by the manifest), or the
 * container, whose index lists them.
 */
export type TensorSource =
  | { readonly transport: "decoded"; readonly manifest: Manifest }
  | {
    readonly transport: "compressed";
    /** The containers by safetensors file path; `""` for the one of a single-file revision. */
    readonly containers: ReadonlyMap<string, RemoteContainer>;
    /** For a revision of several files, the manifest that lists them; else absent. */
    readonly manifest?: Manifest;
  };

/** What a load needs of a tensor, from the manifest or the container index. */
export interface LoadEntry {
  /** Name. */
  readonly name: string;
  /** Element type. */
  readonly dtype: Dtype;
  /** Dimensions. */
  readonly shape: readonly number[];
  /** Layer key. */
  readonly layer: string;
  /** Bytes of its data. */
  readonly rawBytes: number;
  /** The safetensors file that holds it, in a revision of several. */
  readonly file?: string;
}

/** The original file a source describes: the model, its revision, and the file's size and hash. */
export interface SourceFile {
  /** `org/name`. */
  readonly id: string;
  /** The revision asked for. */
  readonly revision: string;
  /** SHA-256 of the original file. */
  readonly sha256: string;
  /** Its size in bytes. */
  readonly size: number;
}

/**
 * Measured bandwidth (bytes per second) from which `auto` takes the decoded transport: 18 MB/s.
 * A fresh process reads its first bodies slowly, so the figure measured while the container opens
 * is not the link's: on this 2-core machine loopback read 20-31 MB/s and a 100 Mbit/s link (12.5
 * MB/s) 14-16, its first bytes arriving with the headers. It cannot tell loopback from 1 Gbit/s,
 * but it tells both from 100 Mbit/s, by a thin margin. On the fast links the server's warm decode
 * bounds both transports and decoding here too only adds start-up and CPU (bench:transfer,
 * loopback and 1 Gbit/s: decoded faster in 14 of 18 runs); on the slow one the bytes are the
 * bottleneck and the container's ratio is the speed-up.
 */
export const AUTO_DECODED_FROM = 18e6;

/**
 * Least time, in seconds, that the compressed transport must save on the measured link for `auto`
 * to take it: decoding here costs a client a little more start-up (kernels; workers only for large
 * models) than letting the server decode, while the decoded transport waits a round trip for the
 * manifest first. Was 0.05 until the client's start-up shrank (lazy native backends, no global
 * setTimeout): on 100 Mbit/s the 0.5 MB stories260k.bf16 then saved 14 ms and loaded faster
 * compressed in the last three bench:transfer runs (0.32 against 0.36 s, 0.36 against 0.39, and a
 * tie), while at 1 Gbit/s it saves 1.4 ms and ties.
 */
export const AUTO_MIN_SAVING_S = 0.01;

/**
 * Bytes saved from which `auto` takes the compressed transport whatever the link measured: 32 MB.
 * The opening's measure cannot tell loopback from 1 Gbit/s, and on both the 338 MB many-tensor
 * model (107 MB saved) loaded faster compressed, by far: 1.53 against 2.13 s on loopback, 2.25
 * against 3.06 s at 1 Gbit/s (bench:transfer at the start of this session, load 0-2), the client's
 * decode running on its own threads beside the link while the decoded transport's one body waits
 * on the server's. Below 8 MB saved the two were within noise or decoded won (human-fp32.fp32, 7.3
 * MB saved: 0.64 against 0.73 s on loopback), so the rule leaves small models as they were.
 */
export const AUTO_COMPRESSED_FROM_SAVED = 32e6;

/**
 * Whether `auto` lets the server decode, on a link measured at `bandwidth` bytes per second (0:
 * nothing measured) where the containers save `saved` bytes against the original files.
 *
 * @example
 * ```ts
 * import { autoPicksDecoded } from "./load_model.ts";
 * console.assert(autoPicksDecoded(25e6, 2e6)); // a fast link, little saved
 * console.assert(!autoPicksDecoded(25e6, 100e6)); // a fast link, much saved
 * console.assert(!autoPicksDecoded(1e6, 2e6)); // a slow link
 * ```
 */
export function autoPicksDecoded(bandwidth: number, saved: number): boolean {
  if (bandwidth === 0) return false; // nothing measured: the container is the safe choice
  if (saved >= AUTO_COMPRESSED_FROM_SAVED) return false;
  return bandwidth >= AUTO_DECODED_FROM || saved / bandwidth < AUTO_MIN_SAVING_S;
}

/**
 * Opens the source of `ref`'s tensors. The compressed transport needs only the container (at the
 * conventional URL `…/container?revision=`): its index lists every tensor, its digest and the load
 * order, so nothing else is fetched before the first layer's bytes are asked for; its opening
 * streams (`stream` of {@link HttpSourceOptions}) unless a variant is read. The decoded
 * transport fetches the manifest. With `auto`, a server that offers no container gets the decoded
 * transport, and so does a link that the container's opening (its first and last kilobytes, two
 * requests) measured at {@link AUTO_DECODED_FROM} or more, or on which the bytes the containers
 * save take less than {@link AUTO_MIN_SAVING_S}, unless they save
 * {@link AUTO_COMPRESSED_FROM_SAVED} or more ({@link autoPicksDecoded}).
 */
export async function openSource(
  fetchFn: Fetch,
  ref: ModelRef,
  options: Pick<LoadOptions, "transport" | "backends" | "http"> & {
    /** One safetensors file of a revision of several: its path. */
    readonly file?: string;
  },
  signal?: AbortSignal,
): Promise<TensorSource> {
  const wanted = options.transport ?? "auto";
  const decoded = async (): Promise<TensorSource> => ({
    transport: "decoded",
    manifest: await fetchManifest(fetchFn, ref, signal),
  });
  if (wanted === "decoded") return await decoded();
  // One pacer for every container of the model, so that the link is measured once.
  const pacer = options.http?.pacer ?? linkPacer();
  const open = (url: string, stream = true) =>
    openRemoteContainer(fetchFn, url, {
      // The opening body streams on: a load or pull reads the container front to back. Not
      // for a variant, which reads one region of several: the stream would carry the others.
      stream: stream && variantName(ref) === null,
      ...options.http,
      pacer,
      signal,
      backends: options.backends ?? portableBackends,
    });
  // Whether auto should let the server decode, once `opened` are open (see AUTO_DECODED_FROM).
  const decodedPays = (opened: readonly RemoteContainer[]) => {
    if (wanted !== "auto") return false;
    let saved = 0;
    for (const c of opened) saved += c.index.source.size - c.source.size;
    return autoPicksDecoded(pacer.estimates().bandwidth, saved);
  };
  const one = options.file === undefined
    ? apiUrl(ref, "/container")
    : `${apiUrl(ref, "/container")}&${new URLSearchParams({ file: options.file })}`;
  try {
    const container = await open(one);
    if (decodedPays([container])) {
      container.source.close();
      return await decoded();
    }
    return { transport: "compressed", containers: new Map([["", container]]) };
  } catch (e) {
    if (!(e instanceof ClientError && e.kind === "http")) throw e;
    // Several safetensors files (400), or no container at all: the manifest says which.
    const manifest = await fetchManifest(fetchFn, ref, signal);
    const files = (manifest.files ?? []).filter((f) => f.container);
    if (e.status === 400 && files.length > 1 && options.file === undefined) {
      const base = apiUrl(ref, "/container");
      // Only the file the load starts with streams: the others' streams would read ahead at
      // once and share the link with the first layer.
      const first = loadOrder(manifest)[0]?.file;
      const opened = await Promise.all(
        files.map(async (f) =>
          [f.path, await open(new URL(f.container!.url, base).href, f.path === first)] as const
        ),
      );
      if (decodedPays(opened.map(([, c]) => c))) {
        for (const [, c] of opened) c.source.close();
        return { transport: "decoded", manifest };
      }
      return { transport: "compressed", containers: new Map(opened), manifest };
    }
    if (wanted === "auto") return { transport: "decoded", manifest };
    throw e;
  }
}

/**
 * The file `source` describes, for the model `ref` names: the revision's only safetensors file, or
 * the one at path `file`; at a variant revision (`main@int8`) the variant's file (its digest from
 * the manifest or the container's index).
 */
export function sourceFile(ref: ModelRef, source: TensorSource, file?: string): SourceFile {
  if (source.transport === "decoded") {
    if (file !== undefined) {
      const f = (source.manifest.files ?? []).find((f) => f.path === file);
      if (!f) {
        throw new ClientError("bad_response", `${ref.id}@${ref.revision} has no file ${file}`);
      }
      return { id: ref.id, revision: ref.revision, sha256: f.sha256, size: f.size };
    }
    const m = singleFile(source.manifest);
    return { id: m.id, revision: m.revision, sha256: m.sha256, size: m.size };
  }
  const c = source.containers.get("");
  if (!c) {
    throw new ClientError(
      "bad_response",
      `${ref.id}@${ref.revision} has ${source.containers.size} safetensors files, not one; ` +
        "name one, or pull them all into a folder",
    );
  }
  const s = c.index.source, variant = variantName(ref);
  const sha256 = variant === null ? s.sha256 : variantEntry(c, variant).sha256;
  return { id: ref.id, revision: ref.revision, sha256, size: s.size };
}

/** Tensors of a container in load order: layer by layer, each layer's tensors in file order. */
export function indexLoadOrder(c: RemoteContainer): LoadEntry[] {
  const byLayer = new Map<string, LoadEntry[]>(c.index.layers.map((l) => [l, []]));
  for (const t of c.index.tensors) {
    byLayer.get(t.layer)!.push({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      layer: t.layer,
      rawBytes: t.offsets[1] - t.offsets[0],
    });
  }
  return [...byLayer.values()].flat();
}
