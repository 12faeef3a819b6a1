/**
 * Ingesting repo files: a request body is received into the store's scratch folder under a size
 * limit while its SHA-256 is computed; a file that is a valid safetensors file is packed into a
 * `.tsr` container and verified (in a worker), any other file is kept as it is. Staged files then
 * become content-addressed objects: `blobs/<sha256>` for a file kept as is, and for a safetensors
 * file `blobs/<container sha256>` plus `packed/<file sha256>.json`, which records which container
 * holds it (so a second upload of the same file is recognised without packing it again).
 * @module
 */
import type { Mode } from "../../codec/chunk_encode.ts";
import { sha256 as sha256Hasher } from "../hash/sha256.ts";
import { openFileReader } from "../io/random_access.ts";
import { SafetensorsError } from "../safetensors/errors.ts";
import { readSafetensorsHeader } from "../safetensors/parse.ts";
import { StoreError } from "./errors.ts";
import { isNoSpace } from "./file_object_store.ts";
import { gitBlobHasher, LFS_THRESHOLD } from "./git_objects.ts";
import { blobKey, type ObjectStore } from "./object_store.ts";
import { runPackJob } from "./pack_job.ts";
import { type ReceiveLimits, receiveToFile } from "./upload.ts";

/** What the store holds for a file's content. */
export interface StoredContent {
  /** SHA-256 of the file. */
  readonly sha256: string;
  /** File size. */
  readonly size: number;
  /** The container that stores it, for a safetensors file; null when it is stored as is. */
  readonly container: { readonly sha256: string; readonly size: number } | null;
}

/** A file received into scratch and not yet stored. */
export interface StagedFile extends StoredContent {
  /** Codec mode of the container, when there is one. */
  readonly mode: Mode | null;
  /** Scratch file holding what becomes the object (the container, or the bytes). */
  readonly scratchFile: string;
}

/** Options of {@link receiveFile}. */
export interface ReceiveOptions extends ReceiveLimits {
  /** The SHA-256 the body must have (uploads by content address). */
  readonly sha256?: string;
  /** Codec mode for a safetensors file; `best` by default. */
  readonly mode?: Mode;
  /** Refuse a body that is not a valid safetensors file (with the SafetensorsError). */
  readonly requireSafetensors?: boolean;
  /** Pack on the calling thread (tests). */
  readonly packInline?: boolean;
}

/** Key of the record of which container holds the safetensors file of SHA-256 `sha256`. */
export function packedKey(sha256: string): string {
  blobKey(sha256);
  return `packed/${sha256}.json`;
}

/**
 * Whether the file in scratch is a safetensors file: null when it is, else the error saying why
 * not. A cheap look at its first 9 bytes comes first, so an ordinary file is not parsed.
 */
async function safetensorsProblem(path: string): Promise<SafetensorsError | null> {
  const r = await openFileReader(path);
  try {
    if (r.size >= 9) {
      const head = await r.readAt(0, 9);
      const n = new DataView(head.buffer, head.byteOffset).getBigUint64(0, true);
      if (n + 8n > BigInt(r.size) || head[8] !== 0x7b) {
        return new SafetensorsError(
          n + 8n > BigInt(r.size) ? "header_length_exceeds_file" : "header_bad_start",
          `not a safetensors file: its first 8 bytes announce a ${n}-byte header in a ` +
            `${r.size}-byte file${head[8] !== 0x7b ? ' that does not start with "{"' : ""}`,
        );
      }
    }
    await readSafetensorsHeader(r);
    return null;
  } catch (e) {
    if (e instanceof SafetensorsError) return e;
    throw e;
  } finally {
    r.close();
  }
}

/** Receives `body` into the new file `path` within `limits`, hashing it on the way. */
async function hashBody(
  body: ReadableStream<Uint8Array> | null,
  path: string,
  limits: ReceiveLimits,
): Promise<{ sha256: string; size: number }> {
  const h = sha256Hasher();
  const tee = body?.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        h.update(chunk);
        c.enqueue(chunk);
      },
    }),
  ) ?? null;
  const size = await receiveToFile(tee, path, limits);
  return { sha256: h.hex(), size };
}

/**
 * Receives `body` into scratch: checks its size and, when asked, its SHA-256; packs it when it is
 * a safetensors file. Nothing is stored yet: {@link storeStaged} does that, and
 * {@link discardStaged} removes the scratch file instead.
 *
 * @example
 * ```ts
 * const staged = await receiveFile(objects, req.body, { maxBytes: 4 << 30 });
 * await storeStaged(objects, staged);
 * ```
 */
export async function receiveFile(
  objects: ObjectStore,
  body: ReadableStream<Uint8Array> | null,
  options: ReceiveOptions,
): Promise<StagedFile> {
  const upload = `${objects.scratchDir}/upload-${crypto.randomUUID()}`;
  const packed = `${upload}.tsr`;
  try {
    let got: { sha256: string; size: number };
    try {
      got = await hashBody(body, upload, options);
    } catch (e) {
      if (isNoSpace(e)) {
        throw new StoreError("no_space", `cannot store the upload: ${(e as Error).message}`);
      }
      throw e;
    }
    if (options.sha256 !== undefined && got.sha256 !== options.sha256) {
      throw new StoreError(
        "digest_mismatch",
        `the body's SHA-256 is ${got.sha256}, the upload names ${options.sha256}`,
      );
    }
    const problem = await safetensorsProblem(upload);
    if (problem && options.requireSafetensors) throw problem;
    if (problem) {
      return { ...got, container: null, mode: null, scratchFile: upload };
    }
    const mode = options.mode ?? "best";
    const job = await runPackJob({ input: upload, output: packed, mode }, options.packInline);
    if (job.sourceSha256 !== got.sha256) {
      throw new Error(`packed ${job.sourceSha256}, received ${got.sha256}: the upload changed`);
    }
    await Deno.remove(upload);
    return {
      ...got,
      container: { sha256: job.sha256, size: job.containerSize },
      mode,
      scratchFile: packed,
    };
  } catch (e) {
    await Deno.remove(upload).catch(() => {});
    await Deno.remove(packed).catch(() => {});
    throw e;
  }
}

/** Removes the scratch file of a staged file that will not be stored. */
export async function discardStaged(staged: StagedFile): Promise<void> {
  await Deno.remove(staged.scratchFile).catch(() => {});
}

/** Stores a staged file as objects (consuming its scratch file); returns what was stored. */
export async function storeStaged(
  objects: ObjectStore,
  staged: StagedFile,
): Promise<StoredContent> {
  const { sha256, size, container } = staged;
  if (!container) {
    await objects.putObject(blobKey(sha256), { file: staged.scratchFile });
    return { sha256, size, container: null };
  }
  await objects.putObject(blobKey(container.sha256), { file: staged.scratchFile });
  const record = { format: "tessera-packed/1", container, mode: staged.mode, size };
  await objects.putObject(packedKey(sha256), {
    bytes: new TextEncoder().encode(JSON.stringify(record) + "\n"),
  });
  return { sha256, size, container };
}

/**
 * What the store holds for content `sha256`: the container recorded for it, else the blob of its
 * bytes; null when it holds neither (or the recorded container is gone).
 */
export async function lookupContent(
  objects: ObjectStore,
  sha256: string,
): Promise<StoredContent | null> {
  const record = await objects.getObject(packedKey(sha256), 1 << 16);
  if (record) {
    const r = JSON.parse(new TextDecoder().decode(record)) as {
      container: { sha256: string; size: number };
      size: number;
    };
    const c = await objects.statObject(blobKey(r.container.sha256));
    if (c && c.size === r.container.size) {
      return { sha256, size: r.size, container: { sha256: r.container.sha256, size: c.size } };
    }
  }
  const raw = await objects.statObject(blobKey(sha256));
  return raw ? { sha256, size: raw.size, container: null } : null;
}

/**
 * The git blob id of stored raw content (read whole: only files of at most
 * {@link LFS_THRESHOLD} bytes are plain git files).
 */
export async function rawGitOid(objects: ObjectStore, content: StoredContent): Promise<string> {
  const bytes = await objects.getObject(blobKey(content.sha256), LFS_THRESHOLD);
  if (!bytes) throw new StoreError("missing_upload", `content ${content.sha256} is not stored`);
  const h = gitBlobHasher(bytes.length);
  h.update(bytes);
  return h.hex();
}
