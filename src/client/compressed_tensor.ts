/**
 * Fetches one tensor's chunks from a remote container by `Range`, decodes and verifies each with
 * `codec/`, assembles the tiles into row-major bytes and checks the tensor's SHA-256.
 * Browser-safe.
 * @module
 */
import { decodeChunk, scratchBytes } from "../../codec/chunk_decode.ts";
import { CodecError } from "../../codec/errors.ts";
import { copyTileRegion, tileRect } from "../../codec/tiles.ts";
import type { ZstdDecompress } from "../../codec/zstd_decode.ts";
import {
  type ChunkRecord,
  geometryOf,
  losslessOf,
  type TensorEntry,
} from "../container/index_schema.ts";
import { ClientError } from "./errors.ts";
import { type Fetch, fetchRange } from "./http.ts";
import type { Limiter } from "./limiter.ts";
import type { RemoteContainer } from "./remote_container.ts";
import { webSha256Hex } from "./web_sha256.ts";

/** Chunks closer than this are fetched in one request, the gap discarded. */
export const COALESCE_GAP = 4096;
/** Largest request a run of chunks is coalesced into. */
export const MAX_RUN_BYTES = 8 << 20;

/** Options for {@link fetchCompressedTensor}. */
export interface CompressedTensorOptions {
  /** Aborts the requests. */
  readonly signal?: AbortSignal;
  /** Bounds the requests in flight, shared with other tensors. */
  readonly limit: Limiter;
  /** Zstandard decoder for planes; the portable one by default. */
  readonly zstdDecompress?: ZstdDecompress;
  /** Called with the size of each piece of a response as it arrives. */
  readonly onWireBytes?: (n: number) => void;
  /** Called with the raw size of each chunk once it is decoded and verified. */
  readonly onRawBytes?: (n: number) => void;
}

/** A run of chunks fetched with one range request. */
interface Run {
  readonly start: number;
  readonly end: number;
  readonly chunks: { index: number; record: ChunkRecord }[];
}

/** Groups the chunks of a tensor into runs of nearby chunks, in file order. */
export function chunkRuns(
  chunks: readonly ChunkRecord[],
  gap = COALESCE_GAP,
  maxBytes = MAX_RUN_BYTES,
): Run[] {
  const sorted = chunks.map((record, index) => ({ index, record }))
    .sort((a, b) => a.record[0] - b.record[0]);
  const runs: Run[] = [];
  let current: { start: number; end: number; chunks: Run["chunks"] } | undefined;
  for (const c of sorted) {
    const [offset, stored] = c.record;
    if (
      current && offset >= current.end && offset - current.end <= gap &&
      offset + stored - current.start <= maxBytes
    ) {
      current.end = offset + stored;
      current.chunks.push(c);
    } else {
      if (current) runs.push(current);
      current = { start: offset, end: offset + stored, chunks: [c] };
    }
  }
  if (current) runs.push(current);
  return runs;
}

/**
 * Fetches, decodes and verifies tensor `t` of container `c`; returns its row-major bytes. Throws
 * `chunk_corrupt` or `digest_mismatch` rather than return a wrong byte.
 *
 * @example
 * ```ts ignore
 * import { fetchCompressedTensor } from "./compressed_tensor.ts";
 * import { limiter } from "./limiter.ts";
 * const bytes = await fetchCompressedTensor(fetch, container, entry, { limit: limiter(4) });
 * ```
 */
export async function fetchCompressedTensor(
  fetchFn: Fetch,
  c: RemoteContainer,
  t: TensorEntry,
  options: CompressedTensorOptions,
): Promise<Uint8Array> {
  const lossless = losslessOf(t);
  const g = geometryOf(t);
  const out = new Uint8Array(t.offsets[1] - t.offsets[0]);
  const maxRaw = lossless.chunks.reduce((m, ch) => Math.max(m, ch[2]), 0);
  const scratch = new Uint8Array(scratchBytes(maxRaw));
  const slots = new Int32Array(4096);
  const words = new Uint16Array(maxRaw);
  const fullWidth = g.tileCols === g.cols;
  const tile = fullWidth ? undefined : new Uint8Array(maxRaw);
  const whole = { r0: 0, r1: g.rows, c0: 0, c1: g.cols };
  const decode = (bytes: Uint8Array, index: number, record: ChunkRecord) => {
    const [offset, storedLength, rawLength, storedXxh32, rawXxh32] = record;
    const r = tileRect(g, index);
    const target = fullWidth
      ? out.subarray(r.r0 * g.cols * g.width, r.r1 * g.cols * g.width)
      : tile!.subarray(0, rawLength);
    try {
      decodeChunk(
        bytes,
        { storedLength, rawLength, storedXxh32, rawXxh32 },
        lossless.layout,
        target,
        {
          zstdDecompress: options.zstdDecompress,
          scratch,
          slots,
          words,
          verifyStored: true,
        },
      );
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      throw new ClientError(
        "chunk_corrupt",
        `tensor "${t.name}" chunk ${index} at container offset ${offset}: ${e.message}`,
        { cause: e },
      );
    }
    if (!fullWidth) copyTileRegion(g, index, target, whole, out);
    options.onRawBytes?.(rawLength);
  };
  await Promise.all(
    chunkRuns(lossless.chunks).map((run) =>
      options.limit(async () => {
        options.signal?.throwIfAborted();
        const { bytes } = await fetchRange(fetchFn, c.url, run.start, run.end, {
          signal: options.signal,
          onBytes: options.onWireBytes,
        });
        for (const { index, record } of run.chunks) {
          const at = record[0] - run.start;
          decode(bytes.subarray(at, at + record[1]), index, record);
        }
      })
    ),
  );
  const digest = await webSha256Hex(out);
  if (digest !== t.sha256) {
    throw new ClientError(
      "digest_mismatch",
      `tensor "${t.name}": decoded bytes hash to ${digest}, the index says ${t.sha256}`,
    );
  }
  return out;
}
