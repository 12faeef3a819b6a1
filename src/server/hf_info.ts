/**
 * Hugging Face Hub API bodies for a revision: model info with `siblings`, the file tree, and Git
 * LFS pointers for the large files (the virtual `model.safetensors` and the container `model.tsr`).
 * @module
 */
import type { z } from "zod";
import { dtypeWidth } from "../../codec/dtype.ts";
import type { Index } from "../container/index_schema.ts";
import { gitBlobOid } from "../store/file_digests.ts";
import type { RevisionSnapshot } from "../store/model_store.ts";
import { CONTAINER_FILE, ORIGINAL_FILE } from "../store/names.ts";
import type { hfModelInfoSchema, hfTreeEntrySchema } from "./schemas.ts";

/** A model info body. */
export type HfModelInfo = z.infer<typeof hfModelInfoSchema>;
/** A tree entry body. */
export type HfTreeEntry = z.infer<typeof hfTreeEntrySchema>;

/** One file of a revision as the Hub sees it. */
export interface HfFile {
  /** Path in the repo. */
  readonly path: string;
  /** Size. */
  readonly size: number;
  /** Lower-case hex SHA-256. */
  readonly sha256: string;
  /** Git blob id of what git stores: the bytes, or the LFS pointer for large files. */
  readonly oid: string;
  /** Whether git stores it as an LFS pointer. */
  readonly lfs: boolean;
}

/**
 * The Git LFS pointer of a file with `sha256` and `size`.
 *
 * @example
 * ```ts
 * lfsPointer("ab…", 10);
 * // "version https://git-lfs.github.com/spec/v1\noid sha256:ab…\nsize 10\n"
 * ```
 */
export function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

/** The files of a revision: the virtual original, the container, then the sidecars. */
export function hfFiles(snap: RevisionSnapshot, index: Index): HfFile[] {
  const big = (path: string, sha256: string, size: number): HfFile => ({
    path,
    size,
    sha256,
    oid: gitBlobOid(new TextEncoder().encode(lfsPointer(sha256, size))),
    lfs: true,
  });
  return [
    big(ORIGINAL_FILE, index.source.sha256, index.source.size),
    big(CONTAINER_FILE, snap.containerSha256, snap.containerSize),
    ...snap.sidecars.map((s) => ({
      path: s.name,
      size: s.size,
      sha256: s.sha256,
      oid: s.gitOid,
      lfs: false,
    })),
  ];
}

/** Parameter counts by dtype, as the Hub's `safetensors` field. */
export function parameterCounts(
  index: Index,
): { parameters: Record<string, number>; total: number } {
  const parameters: Record<string, number> = {};
  let total = 0;
  for (const t of index.tensors) {
    const n = (t.offsets[1] - t.offsets[0]) / dtypeWidth(t.dtype);
    parameters[t.dtype] = (parameters[t.dtype] ?? 0) + n;
    total += n;
  }
  return { parameters, total };
}

/** The tree listing of a revision. */
export function hfTree(files: readonly HfFile[]): HfTreeEntry[] {
  return files.map((f) => ({
    type: "file" as const,
    oid: f.oid,
    size: f.lfs ? lfsPointer(f.sha256, f.size).length : f.size,
    path: f.path,
    ...(f.lfs && {
      lfs: { oid: f.sha256, size: f.size, pointerSize: lfsPointer(f.sha256, f.size).length },
    }),
  }));
}

/**
 * The model info of a revision; `config` is the parsed `config.json`, if any.
 *
 * @example
 * ```ts
 * hfModelInfo(snapshot, lease.container.index, null).sha; // the commit id
 * ```
 */
export function hfModelInfo(
  snap: RevisionSnapshot,
  index: Index,
  config: Record<string, unknown> | null,
): HfModelInfo {
  const { ref } = snap;
  const id = `${ref.org}/${ref.name}`;
  const files = hfFiles(snap, index);
  const modified = new Date(snap.mtimeMs).toISOString();
  const modelType = typeof config?.model_type === "string" ? config.model_type : null;
  return {
    _id: snap.commit.slice(0, 24),
    id,
    modelId: id,
    author: ref.org,
    sha: snap.commit,
    lastModified: modified,
    createdAt: modified,
    private: false,
    disabled: false,
    gated: false,
    downloads: 0,
    likes: 0,
    tags: ["safetensors", "tessera", ...(modelType ? [modelType] : [])],
    ...(config && Array.isArray(config.architectures) && { library_name: "transformers" }),
    ...(config && { config }),
    siblings: files.map((f) => ({
      rfilename: f.path,
      size: f.size,
      blobId: f.oid,
      ...(f.lfs && {
        lfs: { sha256: f.sha256, size: f.size, pointerSize: lfsPointer(f.sha256, f.size).length },
      }),
    })),
    safetensors: parameterCounts(index),
    usedStorage: snap.containerSize + snap.sidecars.reduce((n, s) => n + s.size, 0),
  };
}
