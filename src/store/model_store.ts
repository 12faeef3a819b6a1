/**
 * The model store: the models folder, its open containers and file digests, and the writes that
 * change it (upload, sidecar upload, delete). Writes to one model run one after the other, and
 * each becomes visible by a single rename, so a reader sees the old state or the new, never half.
 * @module
 */
import { createHash } from "node:crypto";
import type { Mode } from "../../codec/chunk_encode.ts";
import { sha256Hex } from "../hash/sha256.ts";
import { createAtomicFile } from "../io/atomic_file.ts";
import { openFileReader } from "../io/random_access.ts";
import { openPositionalReader } from "../io/positional_reader.ts";
import { readSafetensorsHeader } from "../safetensors/parse.ts";
import {
  type ContainerLease,
  type ContainerLeases,
  createContainerLeases,
} from "./container_leases.ts";
import { StoreError } from "./errors.ts";
import { createFileDigests, type FileDigests, writeDigestMeta } from "./file_digests.ts";
import { createKeyedMutex } from "./keyed_mutex.ts";
import {
  listModels,
  listRevisions,
  listSidecars,
  modelDir,
  type ModelListing,
  type RevisionRef,
  revisionRef,
} from "./layout.ts";
import { checkSidecar, DEFAULT_REVISION } from "./names.ts";
import { runPackJob } from "./pack_job.ts";
import { type ReceiveLimits, receiveToFile, receiveToMemory } from "./upload.ts";

/** A revision's files and the commit id derived from their digests. */
export interface RevisionSnapshot {
  /** Which revision. */
  readonly ref: RevisionRef;
  /** Container size in bytes. */
  readonly containerSize: number;
  /** SHA-256 of the container file. */
  readonly containerSha256: string;
  /** Container modification time, ms. */
  readonly mtimeMs: number;
  /** Sidecar files with their digests, sorted by name. */
  readonly sidecars: readonly { name: string; size: number; sha256: string; gitOid: string }[];
  /** A stable 40-hex commit id: SHA-1 over the container and sidecar digests. */
  readonly commit: string;
}

/** What a model upload reports. */
export interface PublishResult {
  /** Whether the revision is new (201) rather than replaced (200). */
  readonly created: boolean;
  /** The revision published. */
  readonly ref: RevisionRef;
  /** SHA-256 and size of the original file. */
  readonly sha256: string;
  /** Original size. */
  readonly size: number;
  /** SHA-256 of the container. */
  readonly containerSha256: string;
  /** Container size. */
  readonly containerSize: number;
}

/** What a sidecar upload reports. */
export interface SidecarResult {
  /** Whether the file is new. */
  readonly created: boolean;
  /** File name. */
  readonly file: string;
  /** Size. */
  readonly size: number;
  /** SHA-256. */
  readonly sha256: string;
}

/**
 * A caller's expectation of what it replaces or deletes: given the SHA-256 of the current content
 * (a revision's original safetensors file, or a sidecar's bytes), null when there is none, whether
 * to go ahead. It is checked under the model's lock, so no other write slips in between; a refusal
 * is a `precondition_failed` error.
 */
export type Expectation = (currentSha256: string | null) => boolean;

/** Options of {@link createModelStore}. */
export interface ModelStoreOptions {
  /** The models folder. */
  readonly root: string;
  /** Pack uploads on the calling thread instead of a worker (tests). */
  readonly packInline?: boolean;
}

/** The store. */
export interface ModelStore {
  /** The models folder. */
  readonly root: string;
  /** Open containers. */
  readonly leases: ContainerLeases;
  /** File digests. */
  readonly digests: FileDigests;
  /** Every model with at least one revision. */
  list(): Promise<ModelListing[]>;
  /** Revisions of `org/name` that hold a container, sorted; throws `model_not_found` if none. */
  revisions(org: string, name: string): Promise<string[]>;
  /**
   * Resolves `org/name` at `revision`: a branch name, `HEAD` (the default branch unless a branch
   * is called so) or a commit id from {@link snapshot}. Throws `bad_name`, `model_not_found` or
   * `revision_not_found`.
   */
  resolve(org: string, name: string, revision: string | null | undefined): Promise<RevisionRef>;
  /** The files and digests of a revision; of the container `lease` holds, when given. */
  snapshot(ref: RevisionRef, lease?: ContainerLease): Promise<RevisionSnapshot>;
  /** Path of sidecar `file` of `ref`; throws `bad_name`. */
  sidecarPath(ref: RevisionRef, file: string): string;
  /** Receives a safetensors upload, packs, verifies and publishes it. */
  publishModel(
    org: string,
    name: string,
    revision: string | null,
    body: ReadableStream<Uint8Array> | null,
    limits: ReceiveLimits & { mode?: Mode; expect?: Expectation },
  ): Promise<PublishResult>;
  /** Stores a sidecar file in a revision folder (the container may come later). */
  putSidecar(
    org: string,
    name: string,
    revision: string | null,
    file: string,
    body: ReadableStream<Uint8Array> | null,
    limits: ReceiveLimits & { expect?: Expectation },
  ): Promise<SidecarResult>;
  /** Deletes a revision and its sidecars. */
  deleteRevision(
    org: string,
    name: string,
    revision: string | null,
    expect?: Expectation,
  ): Promise<void>;
  /** Deletes one sidecar. */
  deleteSidecar(
    org: string,
    name: string,
    revision: string | null,
    file: string,
    expect?: Expectation,
  ): Promise<void>;
  /** Removes leftovers of interrupted uploads older than `maxAgeMs`. */
  sweep(maxAgeMs?: number): Promise<void>;
  /** Closes open containers. */
  close(): void;
}

/** Folder under the models root for uploads in progress; its name can never be an org. */
export const TEMP_DIR = ".tmp";

/**
 * Opens the store rooted at `root` (created if missing).
 *
 * @example
 * ```ts
 * const store = await createModelStore({ root: "./models" });
 * console.log(await store.list());
 * store.close();
 * ```
 */
export async function createModelStore(options: ModelStoreOptions): Promise<ModelStore> {
  const root = options.root.replace(/\/+$/, "") || "/";
  await Deno.mkdir(`${root}/${TEMP_DIR}`, { recursive: true });
  const leases = createContainerLeases();
  const digests = createFileDigests();
  const mutex = createKeyedMutex();
  const tmp = (what: string) => `${root}/${TEMP_DIR}/${what}-${crypto.randomUUID()}`;

  async function snapshot(ref: RevisionRef, held?: ContainerLease): Promise<RevisionSnapshot> {
    const lease = held ?? await leases.acquire(ref.containerPath);
    let containerSha256: string, containerSize: number, mtimeMs: number;
    try {
      containerSha256 = await digests.container(lease.reader);
      containerSize = lease.reader.size;
      mtimeMs = lease.reader.mtimeMs;
    } finally {
      if (!held) lease.release();
    }
    const sidecars = [];
    for (const s of await listSidecars(ref.dir)) {
      try {
        const d = await digests.sidecar(`${ref.dir}/${s.name}`);
        sidecars.push({ name: s.name, size: d.size, sha256: d.sha256, gitOid: d.gitOid });
      } catch {
        // removed meanwhile
      }
    }
    const h = createHash("sha1").update(`tessera-revision\0model.tsr\0${containerSha256}\0`);
    for (const s of sidecars) h.update(`${s.name}\0${s.sha256}\0`);
    return { ref, containerSize, containerSha256, mtimeMs, sidecars, commit: h.digest("hex") };
  }

  async function revisionsOf(org: string, name: string): Promise<string[]> {
    const found = await listRevisions(root, org, name);
    if (found.length === 0) throw new StoreError("model_not_found", `no model ${org}/${name}`);
    return found;
  }

  async function resolve(
    org: string,
    name: string,
    revision: string | null | undefined,
  ): Promise<RevisionRef> {
    const wanted = revision == null || revision === "" ? DEFAULT_REVISION : revision;
    revisionRef(root, org, name, wanted); // validates: a bad name never reaches the file system
    const revisions = await revisionsOf(org, name);
    if (revisions.includes(wanted)) return revisionRef(root, org, name, wanted);
    if (wanted === "HEAD" && revisions.includes(DEFAULT_REVISION)) {
      return revisionRef(root, org, name, DEFAULT_REVISION);
    }
    if (/^[0-9a-f]{40}$/.test(wanted)) {
      for (const r of revisions) {
        const ref = revisionRef(root, org, name, r);
        if ((await snapshot(ref).catch(() => null))?.commit === wanted) return ref;
      }
    }
    throw new StoreError(
      "revision_not_found",
      `model ${org}/${name} has no revision ${wanted}; it has ${revisions.join(", ")}`,
    );
  }

  const modelKey = (org: string, name: string) => `${org}/${name}`;

  // A delete of the org's last model may remove the org folder between mkdir and rename: retry.
  async function renameInto(from: string, dir: string, to: string): Promise<void> {
    for (let attempt = 0;; attempt++) {
      await Deno.mkdir(dir, { recursive: true });
      try {
        return await Deno.rename(from, to);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound) || attempt >= 3) throw e;
      }
    }
  }

  async function exists(path: string): Promise<boolean> {
    try {
      await Deno.stat(path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  // The SHA-256 of the original file of the revision's container, or null without one.
  async function modelSha256(ref: RevisionRef): Promise<string | null> {
    let lease: ContainerLease;
    try {
      lease = await leases.acquire(ref.containerPath);
    } catch (e) {
      if (e instanceof StoreError && e.kind === "file_not_found") return null;
      throw e;
    }
    try {
      return lease.container.index.source.sha256;
    } finally {
      lease.release();
    }
  }

  async function sidecarSha256(path: string): Promise<string | null> {
    if (!(await exists(path))) return null;
    return (await digests.sidecar(path)).sha256;
  }

  function check(expect: Expectation | undefined, current: string | null, what: string): void {
    if (!expect || expect(current)) return;
    throw new StoreError(
      "precondition_failed",
      `${what} ${current === null ? "does not exist" : `is at sha256 ${current}`}, ` +
        "which the request's precondition rules out",
    );
  }

  async function publishModel(
    org: string,
    name: string,
    revision: string | null,
    body: ReadableStream<Uint8Array> | null,
    limits: ReceiveLimits & { mode?: Mode; expect?: Expectation },
  ): Promise<PublishResult> {
    const ref = revisionRef(root, org, name, revision);
    const what = `${org}/${name}@${ref.revision}`;
    // Checked once before the upload, so a stale client learns it before sending gigabytes, and
    // again under the lock, where it counts.
    check(limits.expect, await modelSha256(ref), what);
    const upload = `${tmp("upload")}.safetensors`, packed = `${tmp("pack")}.tsr`;
    try {
      await receiveToFile(body, upload, limits);
      // Refuse a malformed file before queueing behind other uploads of the model.
      const r = await openFileReader(upload);
      try {
        await readSafetensorsHeader(r);
      } finally {
        r.close();
      }
      return await mutex.run(modelKey(org, name), async () => {
        check(limits.expect, await modelSha256(ref), what);
        const job = await runPackJob(
          { input: upload, output: packed, mode: limits.mode ?? "best" },
          options.packInline,
        );
        const created = !(await exists(ref.containerPath));
        await renameInto(packed, ref.dir, ref.containerPath);
        const reader = await openPositionalReader(ref.containerPath);
        try {
          await writeDigestMeta(reader, job.sha256).catch(() => {});
        } finally {
          reader.close();
        }
        return {
          created,
          ref,
          sha256: job.sourceSha256,
          size: job.sourceSize,
          containerSha256: job.sha256,
          containerSize: job.containerSize,
        };
      });
    } finally {
      await Deno.remove(upload).catch(() => {});
      await Deno.remove(packed).catch(() => {});
    }
  }

  async function putSidecar(
    org: string,
    name: string,
    revision: string | null,
    file: string,
    body: ReadableStream<Uint8Array> | null,
    limits: ReceiveLimits & { expect?: Expectation },
  ): Promise<SidecarResult> {
    const ref = revisionRef(root, org, name, revision);
    checkSidecar(file);
    const bytes = await receiveToMemory(body, limits);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new StoreError("invalid_sidecar", `${file} is not valid UTF-8 text`);
    }
    if (text.includes("\0")) throw new StoreError("invalid_sidecar", `${file} contains NUL bytes`);
    if (file.endsWith(".json")) {
      try {
        JSON.parse(text);
      } catch (e) {
        throw new StoreError(
          "invalid_sidecar",
          `${file} is not valid JSON: ${(e as Error).message}`,
        );
      }
    }
    return await mutex.run(modelKey(org, name), async () => {
      await Deno.mkdir(ref.dir, { recursive: true });
      const path = `${ref.dir}/${file}`;
      check(limits.expect, await sidecarSha256(path), `${org}/${name}@${ref.revision}/${file}`);
      const created = !(await exists(path));
      const f = await createAtomicFile(path);
      try {
        await f.writeAt(0, bytes);
        await f.commit();
      } catch (e) {
        await f.abort();
        throw e;
      }
      return {
        created,
        file,
        size: bytes.length,
        sha256: sha256Hex(bytes),
      };
    });
  }

  async function deleteRevision(
    org: string,
    name: string,
    revision: string | null,
    expect?: Expectation,
  ) {
    const ref = revisionRef(root, org, name, revision);
    await mutex.run(modelKey(org, name), async () => {
      if (!(await revisionsOf(org, name)).includes(ref.revision)) {
        throw new StoreError(
          "revision_not_found",
          `model ${org}/${name} has no revision ${ref.revision}`,
        );
      }
      check(expect, await modelSha256(ref), `${org}/${name}@${ref.revision}`);
      // One rename takes the revision out of view; the removal can then take its time.
      const trash = tmp("deleted");
      await Deno.rename(ref.dir, trash);
      await Deno.remove(trash, { recursive: true }).catch(() => {});
      const dir = modelDir(root, org, name);
      await Deno.remove(dir).catch(() => {}); // only when empty
      await Deno.remove(`${root}/${org}`).catch(() => {});
    });
  }

  async function deleteSidecar(
    org: string,
    name: string,
    revision: string | null,
    file: string,
    expect?: Expectation,
  ) {
    const ref = revisionRef(root, org, name, revision);
    checkSidecar(file);
    await mutex.run(modelKey(org, name), async () => {
      const path = `${ref.dir}/${file}`;
      check(expect, await sidecarSha256(path), `${org}/${name}@${ref.revision}/${file}`);
      try {
        await Deno.remove(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          throw new StoreError("file_not_found", `${org}/${name}@${ref.revision} has no ${file}`);
        }
        throw e;
      }
    });
  }

  async function sweep(maxAgeMs = 60 * 60 * 1000) {
    const dir = `${root}/${TEMP_DIR}`;
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      const s = await Deno.stat(path).catch(() => null);
      if (s && Date.now() - (s.mtime?.getTime() ?? 0) > maxAgeMs) {
        await Deno.remove(path, { recursive: true }).catch(() => {});
      }
    }
  }

  return {
    root,
    leases,
    digests,
    list: () => listModels(root),
    revisions: revisionsOf,
    resolve,
    snapshot,
    sidecarPath(ref, file) {
      return `${ref.dir}/${checkSidecar(file)}`;
    },
    publishModel,
    putSidecar,
    deleteRevision,
    deleteSidecar,
    sweep,
    close: () => leases.close(),
  };
}
