/**
 * Rebuilds the original safetensors file from a remote container: the length prefix, the verbatim
 * header, then every tensor in file order, each verified. Browser-safe.
 * @module
 */
import type { ZstdDecompress } from "../../codec/zstd_decode.ts";
import type { Index } from "../container/index_schema.ts";
import { fetchCompressedTensor } from "./compressed_tensor.ts";
import type { Fetch } from "./http.ts";
import { limiter } from "./limiter.ts";
import { orderedWindow } from "./ordered_window.ts";
import { fetchOriginalHeader, type RemoteContainer } from "./remote_container.ts";

/** Where a rebuild starts: a tensor boundary of the original file. */
export interface ResumePoint {
  /** Byte offset in the original file. */
  readonly offset: number;
  /** Index of the first tensor to produce. */
  readonly tensor: number;
  /** Whether the length prefix and header are produced too (only when `offset` is 0). */
  readonly head: boolean;
}

/**
 * The last tensor boundary at or before byte `have` of the original file, so that a rebuild can
 * continue a partial file without producing a byte twice.
 *
 * @example
 * ```ts ignore
 * import { resumePoint } from "./original_stream.ts";
 * const p = resumePoint(container.index, 0);
 * console.assert(p.offset === 0 && p.head);
 * ```
 */
export function resumePoint(index: Index, have: number): ResumePoint {
  const dataStart = 8 + index.source.header.length;
  if (have < dataStart) return { offset: 0, tensor: 0, head: true };
  const tensors = index.tensors;
  let k = 0;
  while (k < tensors.length && dataStart + tensors[k].offsets[1] <= have) k++;
  const offset = k < tensors.length ? dataStart + tensors[k].offsets[0] : index.source.size;
  return { offset, tensor: k, head: false };
}

/** Options for {@link streamOriginal}. */
export interface OriginalStreamOptions {
  /** Where to start; the beginning of the file by default. */
  readonly from?: ResumePoint;
  /** Requests in flight, and tensors fetched ahead; 4 by default. */
  readonly concurrency?: number;
  /** Aborts the requests. */
  readonly signal?: AbortSignal;
  /** Zstandard decoder; the portable one by default. */
  readonly zstdDecompress?: ZstdDecompress;
  /** Called with the size of each piece of a response as it arrives. */
  readonly onWireBytes?: (n: number) => void;
}

/**
 * Yields the bytes of the original file from `options.from` on, in order; every piece has been
 * verified (the header and each tensor against their SHA-256 in the index). The caller checks the
 * whole file's SHA-256.
 */
export async function* streamOriginal(
  fetchFn: Fetch,
  c: RemoteContainer,
  options: OriginalStreamOptions = {},
): AsyncGenerator<Uint8Array> {
  const from = options.from ?? { offset: 0, tensor: 0, head: true };
  const concurrency = options.concurrency ?? 4;
  const limit = limiter(concurrency);
  const { signal, zstdDecompress, onWireBytes } = options;
  if (from.head) {
    const header = await fetchOriginalHeader(fetchFn, c, {
      signal,
      zstdDecompress,
      onBytes: onWireBytes,
    });
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
    yield prefix;
    yield header;
  }
  yield* orderedWindow(
    c.index.tensors.slice(from.tensor),
    concurrency,
    (t) => fetchCompressedTensor(fetchFn, c, t, { signal, limit, zstdDecompress, onWireBytes }),
  );
}
