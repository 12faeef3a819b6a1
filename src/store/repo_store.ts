/**
 * The repo store: model repos as trees of files with commits and branches, over an
 * {@link ObjectStore}. It opens the storage (taking its lock and emptying its scratch folder),
 * imports a folder in the layout of earlier versions, collects garbage, and offers reads
 * (`reader`), uploads by content address, publishes and branch deletes. The parts live in their
 * own modules: `repo_reader.ts`, `ingest.ts`, `publish.ts`, `gc.ts`.
 * @module
 */
import type { Mode } from "../../codec/chunk_encode.ts";
import { type Commit, type TreeFile } from "./commit.ts";
import { type ContainerLeases, createContainerLeases } from "./container_leases.ts";
import { StoreError } from "./errors.ts";
import { collectGarbage, type GcReport } from "./gc.ts";
import {
  discardStaged,
  lookupContent,
  receiveFile,
  type ReceiveOptions,
  type StagedFile,
  type StoredContent,
  storeStaged,
} from "./ingest.ts";
import { createKeyedMutex } from "./keyed_mutex.ts";
import { importLegacyLayout } from "./legacy_import.ts";
import { blobKey, type ObjectStore, type StoredObject } from "./object_store.ts";
import {
  deleteBranch,
  type FileExpectation,
  publish,
  type PublishOutcome,
  type PublishRequest,
} from "./publish.ts";
import { createRepoReader, type RepoReader } from "./repo_reader.ts";
import { createRwLock } from "./rw_lock.ts";
import type { StoreCore } from "./store_core.ts";
import { openStorage } from "./store_url.ts";
import { touchUpload } from "./upload_records.ts";

/** Default retention of uploads waiting for their commit. */
export const UPLOAD_TTL_MS = 24 * 3600 * 1000;
/**
 * Default age grace of garbage collection on shared storage (S3): longer than any publish takes
 * between storing its objects and switching its ref. A folder has one process and needs none.
 */
export const SHARED_GC_GRACE_MS = 3600 * 1000;

/** Options of {@link openRepoStore}. */
export interface RepoStoreOptions {
  /** Where the store lives: `file:DIR` or a plain folder path, or an opened storage. */
  readonly store: string | ObjectStore;
  /** Pack uploads on the calling thread instead of a worker (tests). */
  readonly packInline?: boolean;
  /** Retention of uploads that no commit references yet; 24 hours. */
  readonly uploadTtlMs?: number;
  /** Writes one log line; nothing by default. */
  readonly log?: (line: string) => void;
  /** Import a folder of the earlier layout when the store opens; true. */
  readonly importLegacy?: boolean;
  /**
   * Age grace of garbage collection: 0 for a folder, {@link SHARED_GC_GRACE_MS} for other
   * storage, which other processes may be publishing to.
   */
  readonly gcGraceMs?: number;
  /** Collect garbage when the store opens; true. A read-only store (an edge's) must not. */
  readonly gcOnOpen?: boolean;
}

/** What an upload by content address reports. */
export interface UploadResult extends StoredContent {
  /** Whether the store already held the content (nothing was received). */
  readonly existed: boolean;
}

/** The store. */
export interface RepoStore {
  /** The storage. */
  readonly objects: ObjectStore;
  /** Repos, refs, commits and history. */
  readonly reader: RepoReader;
  /** Open containers, by container SHA-256. */
  readonly leases: ContainerLeases;
  /** The content of SHA-256 `sha256` if the store holds it. */
  content(sha256: string): Promise<StoredContent | null>;
  /** Receives a file into scratch (packed if it is safetensors), for {@link publish}. */
  receive(body: ReadableStream<Uint8Array> | null, options: ReceiveOptions): Promise<StagedFile>;
  /**
   * Uploads content `sha256` for a later commit: received, checked against its SHA-256, stored,
   * and kept for the upload retention. Content already held is not received again.
   */
  upload(
    sha256: string,
    body: ReadableStream<Uint8Array> | null,
    options: ReceiveOptions & { mode?: Mode },
  ): Promise<UploadResult>;
  /** Publishes a commit on `branch` (see `publish.ts`). */
  publish(
    org: string,
    name: string,
    branch: string | null,
    req: PublishRequest,
  ): Promise<PublishOutcome>;
  /**
   * Deletes a branch, and the repo with its last branch; then collects garbage, so the commits and
   * contents only that branch reached are gone when it resolves.
   */
  deleteBranch(
    org: string,
    name: string,
    branch: string | null,
    expect?: FileExpectation,
  ): Promise<void>;
  /** Opens a file stored as is for ranged reads; throws when its content is missing. */
  openRaw(file: TreeFile): Promise<StoredObject>;
  /** The whole of a file stored as is, of at most `maxBytes`. */
  readRaw(file: TreeFile, maxBytes: number): Promise<Uint8Array>;
  /** Removes what no branch reaches and expired uploads (with `dryRun`, only lists it). */
  gc(options?: { dryRun?: boolean }): Promise<GcReport>;
  /** Closes containers and releases the storage. */
  close(): Promise<void>;
}

/** The head commit and files of a revision, as most readers want them. */
export type { Commit, TreeFile };

/**
 * Opens the store at `options.store`.
 *
 * @example
 * ```ts
 * const store = await openRepoStore({ store: "file:./models" });
 * const rev = await store.reader.resolve("demo", "stories260k", "main");
 * await store.close();
 * ```
 */
export async function openRepoStore(options: RepoStoreOptions): Promise<RepoStore> {
  const log = options.log ?? (() => {});
  const { objects, folder } = typeof options.store === "string"
    ? await openStorage(options.store)
    : { objects: options.store, folder: null };
  const leases = createContainerLeases(async (sha256) => {
    const reader = await objects.openObject(blobKey(sha256));
    return reader ? { reader, identity: `sha256:${sha256}` } : null;
  });
  const core: StoreCore = {
    objects,
    reader: createRepoReader(objects),
    mutex: createKeyedMutex(),
    gcLock: createRwLock(),
    leases,
    uploadTtlMs: options.uploadTtlMs ?? UPLOAD_TTL_MS,
    gcGraceMs: options.gcGraceMs ?? (folder ? 0 : SHARED_GC_GRACE_MS),
    log,
  };
  try {
    if (folder && options.importLegacy !== false) {
      for (const id of await importLegacyLayout(core, folder)) {
        log(`imported ${id} from the folder layout of earlier versions`);
      }
    }
    if (options.gcOnOpen !== false) {
      const gc = await collectGarbage(core);
      if (gc.blobs + gc.commits > 0) {
        log(
          `removed ${gc.commits} unreachable commits and ${gc.blobs} contents (${gc.bytes} bytes)`,
        );
      }
    }
  } catch (e) {
    leases.close();
    await objects.close();
    throw e;
  }

  const missing = (f: TreeFile) =>
    new StoreError("file_not_found", `the content of ${f.path} (${f.sha256}) is missing`);

  return {
    objects,
    reader: core.reader,
    leases,
    content: (sha256) => lookupContent(objects, sha256),
    receive: (body, opts) =>
      receiveFile(objects, body, { packInline: options.packInline, ...opts }),
    async upload(sha256, body, opts) {
      blobKey(sha256);
      const held = await lookupContent(objects, sha256);
      if (held) {
        await body?.cancel().catch(() => {});
        await touchUpload(objects, sha256);
        return { ...held, existed: true };
      }
      const staged = await receiveFile(objects, body, {
        packInline: options.packInline,
        ...opts,
        sha256,
      });
      try {
        // Recorded first: collection must not take the content between its store and its record.
        await touchUpload(objects, sha256);
        return { ...await core.gcLock.shared(() => storeStaged(objects, staged)), existed: false };
      } finally {
        await discardStaged(staged);
      }
    },
    publish: (org, name, branch, req) => publish(core, org, name, branch, req),
    async deleteBranch(org, name, branch, expect) {
      await deleteBranch(core, org, name, branch, expect);
      // What only that branch reached stops resolving now, and its space comes back.
      await collectGarbage(core);
    },
    async openRaw(file) {
      const o = await objects.openObject(blobKey(file.sha256));
      if (!o) throw missing(file);
      return o;
    },
    async readRaw(file, maxBytes) {
      const bytes = await objects.getObject(blobKey(file.sha256), maxBytes);
      if (!bytes) throw missing(file);
      return bytes;
    },
    gc: (opts) => collectGarbage(core, opts),
    async close() {
      leases.close();
      await objects.close();
    },
  };
}
