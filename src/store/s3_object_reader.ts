/**
 * An S3 object as a byte source for the one reader. Opening is one ranged GET of the first
 * {@link S3_PREFIX_BYTES} (the container head and usually its original header), which also gives
 * the object's size and entity tag; every later read is a ranged GET carrying `If-Match` with that
 * tag, and its answer is checked again (size in `Content-Range`, `ETag`), because some stores
 * ignore `If-Match` on GET: a replaced object is never mixed with the old one. Its hints make the
 * assembler merge a plan's reads into spans of 4 MiB, four in flight, as over any HTTP link.
 * @module
 */
import { parseContentRange, readExact, shareableBytes } from "../client/http.ts";
import { checkRange, type SourceHints } from "../container/source.ts";
import type { StoredObject } from "./object_store.ts";
import { type S3Client, S3Error, s3Failure } from "./s3_client.ts";

/** Bytes read when an object is opened. */
export const S3_PREFIX_BYTES = 64 << 10;

/** How S3 objects are read: requests cost milliseconds, so spans are large and overlap. */
export const S3_HINTS: SourceHints = { spanBytes: 4 << 20, gapBytes: 256 << 10, inflight: 4 };

/** The error of a read that finds the object replaced since it was opened. */
export function objectChanged(key: string): S3Error {
  return new S3Error(
    412,
    "PreconditionFailed",
    `${key} changed in the object store while it was being read`,
  );
}

/**
 * Opens object `fullKey` (a key in the bucket) of the store for ranged reads, as `key`; null when
 * there is none.
 *
 * @example
 * ```ts ignore
 * const o = await openS3Object(s3, "hub/blobs/ab…", "blobs/ab…");
 * const head = await o?.readAt(0, 64);
 * ```
 */
export async function openS3Object(
  s3: S3Client,
  fullKey: string,
  key: string,
): Promise<StoredObject | null> {
  const res = await s3.request(fullKey, { headers: { Range: `bytes=0-${S3_PREFIX_BYTES - 1}` } });
  let size: number, prefix: Uint8Array;
  const etag = res.headers.get("etag");
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (res.status === 416) {
    // An empty object: no byte satisfies any range.
    await res.body?.cancel();
    size = 0, prefix = new Uint8Array(0);
  } else if (res.status === 206) {
    const range = parseContentRange(res.headers.get("content-range"));
    if (!range || range.first !== 0) {
      await res.body?.cancel();
      throw new S3Error(res.status, null, `GET ${key}: Content-Range ${range}`);
    }
    size = range.total;
    prefix = await readExact(res, range.last + 1, `GET ${key}`);
  } else if (res.status === 200) {
    // A store that ignores Range sends the whole object.
    const bytes = new Uint8Array(await res.arrayBuffer());
    size = bytes.length, prefix = bytes;
  } else {
    throw await s3Failure(res, `GET ${key}`);
  }
  if (!etag) throw new S3Error(res.status, null, `GET ${key}: no ETag in the answer`);
  let closed = false;
  const tag = etag;
  return {
    key,
    size,
    hints: S3_HINTS,
    async readAt(offset, length, signal) {
      if (closed) throw new Error(`${key}: reader is closed`);
      checkRange(offset, length, size, key);
      if (offset + length <= prefix.length) return prefix.subarray(offset, offset + length);
      if (length === 0) return new Uint8Array(0);
      // Shared memory: blocks decoded from it on worker threads read it in place.
      const target = shareableBytes(length);
      await readRangeOnce(offset, target, signal);
      return target;
    },
    async readInto(offset, target, signal) {
      if (closed) throw new Error(`${key}: reader is closed`);
      checkRange(offset, target.length, size, key);
      if (offset + target.length <= prefix.length) {
        target.set(prefix.subarray(offset, offset + target.length));
      } else if (target.length > 0) {
        await readRangeOnce(offset, target, signal);
      }
    },
    close() {
      closed = true;
    },
  };

  /** {@link readRange}, once more when the connection cut the body (not a changed object). */
  async function readRangeOnce(offset: number, target: Uint8Array, signal?: AbortSignal) {
    try {
      await readRange(offset, target, signal);
    } catch (e) {
      if (!(e instanceof TypeError) || signal?.aborted) throw e;
      await readRange(offset, target, signal);
    }
  }

  /** One ranged GET of the bytes at `offset` into `target`, checked against the object opened. */
  async function readRange(offset: number, target: Uint8Array, signal?: AbortSignal) {
    const length = target.length;
    const etag = tag;
    const r = await s3.request(fullKey, {
      headers: { Range: `bytes=${offset}-${offset + length - 1}`, "If-Match": etag },
      signal,
    });
    if (r.status === 412 || r.status === 404) {
      await r.body?.cancel();
      throw objectChanged(key);
    }
    if (r.status !== 206) throw await s3Failure(r, `GET ${key} bytes ${offset}+${length}`);
    const range = parseContentRange(r.headers.get("content-range"));
    if (!range || range.total !== size || r.headers.get("etag") !== etag) {
      await r.body?.cancel();
      throw objectChanged(key);
    }
    if (range.first !== offset || range.last !== offset + length - 1) {
      await r.body?.cancel();
      throw new S3Error(206, null, `GET ${key}: asked ${offset}+${length}, got ${range}`);
    }
    await readExact(r, length, `GET ${key}`, undefined, target);
  }
}
