/**
 * Opens a `.tsr` container over HTTP with two range requests: the 64-byte head, then the index,
 * checked against the SHA-256 in the head with Web Crypto. Browser-safe.
 * @module
 */
import { CodecError } from "../../codec/errors.ts";
import { portableZstdDecompress, type ZstdDecompress } from "../../codec/zstd_decode.ts";
import { ContainerError } from "../container/errors.ts";
import { decodeHead, type Head, HEAD_BYTES } from "../container/format.ts";
import { type Index, parseIndex, type TensorEntry } from "../container/index_schema.ts";
import { ClientError } from "./errors.ts";
import { type Fetch, fetchRange } from "./http.ts";
import { toHex, webSha256Hex } from "./web_sha256.ts";

/** A container on a server: its validated index and where its bytes are. */
export interface RemoteContainer {
  /** URL of the raw container bytes; every chunk is read from it by `Range`. */
  readonly url: string;
  /** Size of the container in bytes. */
  readonly size: number;
  /** The decoded head. */
  readonly head: Head;
  /** The validated index. */
  readonly index: Index;
  /** Tensors by name. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
}

/** Options for {@link openRemoteContainer}. */
export interface RemoteOptions {
  /** Aborts the requests. */
  readonly signal?: AbortSignal;
  /** Zstandard decoder for the index and the original header; the portable one by default. */
  readonly zstdDecompress?: ZstdDecompress;
  /** Called with the byte count of each piece of a response body. */
  readonly onBytes?: (n: number) => void;
}

/**
 * Reads the head and the index of the container at `url`.
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
  const { signal, onBytes } = options;
  const first = await fetchRange(fetchFn, url, 0, HEAD_BYTES, { signal, onBytes });
  const head = asContainerError(() => decodeHead(first.bytes, first.total));
  const stored = (await fetchRange(
    fetchFn,
    url,
    head.indexOffset,
    head.indexOffset + head.indexLength,
    { signal, onBytes },
  )).bytes;
  if ((await webSha256Hex(stored)) !== toHex(head.indexSha256)) {
    throw new ClientError(
      "container_invalid",
      `${url}: index bytes do not match the SHA-256 in the head`,
    );
  }
  const raw = inflate(
    stored,
    head.indexCodec,
    head.indexRawLength,
    options.zstdDecompress,
    "index",
  );
  const index = asContainerError(() => parseIndex(raw, first.total, head.version));
  return {
    url,
    size: first.total,
    head,
    index,
    tensors: new Map(index.tensors.map((t) => [t.name, t])),
  };
}

/** Reads the verbatim header of the original safetensors file and checks its SHA-256. */
export async function fetchOriginalHeader(
  fetchFn: Fetch,
  c: RemoteContainer,
  options: RemoteOptions = {},
): Promise<Uint8Array> {
  const h = c.index.source.header;
  const stored = h.storedLength === 0 ? new Uint8Array(0) : (await fetchRange(
    fetchFn,
    c.url,
    h.offset,
    h.offset + h.storedLength,
    { signal: options.signal, onBytes: options.onBytes },
  )).bytes;
  const bytes = inflate(stored, h.codec, h.length, options.zstdDecompress, "original header");
  if ((await webSha256Hex(bytes)) !== h.sha256) {
    throw new ClientError(
      "digest_mismatch",
      `${c.url}: the stored original header does not match its SHA-256`,
    );
  }
  return bytes;
}

function inflate(
  stored: Uint8Array,
  codec: number,
  rawLength: number,
  zstd: ZstdDecompress = portableZstdDecompress,
  what: string,
): Uint8Array {
  if (codec === 0) return stored;
  try {
    return zstd(stored, rawLength);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    throw new ClientError("container_invalid", `${what} does not decompress: ${e.message}`, {
      cause: e,
    });
  }
}

function asContainerError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof ContainerError)) throw e;
    throw new ClientError("container_invalid", `${e.kind}: ${e.message}`, { cause: e });
  }
}
