/**
 * What a commit's containers hold, derived once per commit (commits never change): every
 * safetensors file with its container index, every tensor by name, and the layers in load order.
 * A repo may hold several models: the files at the root (a checkpoint split into shards) form one,
 * and each subfolder (`text_encoder/`, `unet/`) another. A model's layers merge across its shards
 * and are ordered by the container layer rule (embeddings, numbered blocks, the rest); a
 * subfolder model's layer keys are prefixed with the folder, so keys stay unique in a repo.
 * @module
 */
import type { Index, TensorEntry } from "../container/index_schema.ts";
import { layerOrder } from "../container/layers.ts";
import type { Commit, TreeFile } from "../store/commit.ts";
import { StoreError } from "../store/errors.ts";
import type { RepoStore } from "../store/repo_store.ts";
import { withContainer } from "./leased.ts";

/** A safetensors file of the commit and its container's index. */
export interface ModelFile {
  /** The tree entry (its `container` is set). */
  readonly file: TreeFile & { readonly container: { sha256: string; size: number } };
  /** The container's index. */
  readonly index: Index;
}

/** A tensor and the file that holds it. */
export interface TensorRef {
  /** The file. */
  readonly file: ModelFile;
  /** The tensor entry of its container. */
  readonly tensor: TensorEntry;
}

/** A layer across the files of one model. */
export interface LayerView {
  /** Repo-unique key: the container layer key, prefixed with `folder/` for a subfolder model. */
  readonly key: string;
  /** Its tensors in load order. */
  readonly tensors: readonly TensorRef[];
}

/** What a commit's containers hold. */
export interface CommitView {
  /** Safetensors files in path order. */
  readonly files: readonly ModelFile[];
  /** Tensors by name (a name may occur in several files, e.g. two subfolder models). */
  readonly tensors: ReadonlyMap<string, readonly TensorRef[]>;
  /** Layers in load order: the root model's, then each subfolder's, folders in path order. */
  readonly layers: readonly LayerView[];
}

/** Views by commit. */
export interface CommitViews {
  /** The view of `commit` of repo `id`. */
  get(id: string, commit: Commit): Promise<CommitView>;
}

/** The folder of a repo path: `""` at the root. */
export function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

/** Builds the view of files whose indexes are known. */
export function buildView(files: readonly ModelFile[]): CommitView {
  const tensors = new Map<string, TensorRef[]>();
  const byFolder = new Map<string, TensorRef[]>();
  for (const f of files) {
    const folder = folderOf(f.file.path);
    const list = byFolder.get(folder) ?? [];
    byFolder.set(folder, list);
    for (const t of f.index.tensors) {
      const ref = { file: f, tensor: t };
      list.push(ref);
      const same = tensors.get(t.name);
      if (same) same.push(ref);
      else tensors.set(t.name, [ref]);
    }
  }
  const layers: LayerView[] = [];
  const folders = [...byFolder.keys()].sort();
  for (const folder of folders) {
    const refs = byFolder.get(folder)!;
    const byKey = new Map<string, TensorRef[]>();
    for (const r of refs) {
      const list = byKey.get(r.tensor.layer);
      if (list) list.push(r);
      else byKey.set(r.tensor.layer, [r]);
    }
    for (const key of layerOrder(refs.map((r) => r.tensor.layer))) {
      layers.push({ key: folder ? `${folder}/${key}` : key, tensors: byKey.get(key)! });
    }
  }
  return { files, tensors, layers };
}

/**
 * Creates the cache of views over `store`, holding at most `capacity` commits.
 *
 * @example
 * ```ts
 * const view = await createCommitViews(store).get(rev.id, rev.commit);
 * view.layers.map((l) => l.key); // ["model.embed_tokens", "model.layers.0", …]
 * ```
 */
export function createCommitViews(store: RepoStore, capacity = 64): CommitViews {
  const cache = new Map<string, Promise<CommitView>>();
  return {
    get(id, commit) {
      const key = `${id}@${commit.id}`;
      let p = cache.get(key);
      if (p) {
        cache.delete(key);
        cache.set(key, p);
        return p;
      }
      p = (async () => {
        const files: ModelFile[] = [];
        for (const file of commit.files) {
          if (!file.container) continue;
          const index = await withContainer(
            { store },
            file.container.sha256,
            (l) => l.container.index,
          ).catch((e) => {
            if (e instanceof StoreError && e.kind === "file_not_found") {
              throw new StoreError(
                "file_not_found",
                `${id}@${commit.id}: the container of ${file.path} is missing from the store`,
              );
            }
            throw e;
          });
          files.push({ file: file as ModelFile["file"], index });
        }
        return buildView(files);
      })();
      cache.set(key, p);
      p.catch(() => cache.delete(key));
      if (cache.size > capacity) cache.delete(cache.keys().next().value!);
      return p;
    },
  };
}
