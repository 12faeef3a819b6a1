/**
 * The figures the pages show for one revision of a repo: sizes and ratio, dtypes, bytes per
 * layer, per dtype and per plane codec, the tensor rows, and the variants with their size and
 * error. Computed once per commit (commits never change) from the commit's view and each
 * container's plane tables, and kept in a small cache.
 * @module
 */
import type { Lossless, TensorEntry } from "../container/index_schema.ts";
import type { CommitView } from "../server/commit_views.ts";
import type { ServerContext } from "../server/context.ts";
import { withContainer } from "../server/leased.ts";
import type { Revision } from "../store/repo_reader.ts";
import { type CodecBytes, type CodecCensus, codecCensus } from "./codec_census.ts";
import type { TensorRow } from "./shared/tensor_table.ts";

/** Raw and stored bytes of a group of tensors. */
export interface Bytes {
  /** Tensors in the group. */
  tensors: number;
  /** Bytes in the original files. */
  raw: number;
  /** Bytes of their lossless chunks. */
  stored: number;
}

/** A file of the revision. */
export interface FileFigures {
  /** Path in the repo. */
  readonly path: string;
  /** Size of the file. */
  readonly size: number;
  /** Its SHA-256. */
  readonly sha256: string;
  /** Size of its container, for a safetensors file. */
  readonly stored?: number;
  /** Tensors in it, for a safetensors file. */
  readonly tensors?: number;
  /** The commit that last changed it. */
  readonly lastCommit?: { readonly id: string; readonly date: string; readonly title: string };
}

/** One variant across the revision's files. */
export interface VariantFigures {
  /** Its name (its spec). */
  readonly name: string;
  /** Kinds of its lossy encodings (`int8`, `cast`, …). */
  readonly kinds: string[];
  /** Tensors it changes (those with a lossy encoding of its name). */
  readonly changed: number;
  /** Tensors it serves exact. */
  readonly exact: number;
  /** Stored bytes of the variant: its encodings, plus the lossless chunks of tensors it keeps. */
  readonly stored: number;
  /** Raw bytes of the original tensors. */
  readonly raw: number;
  /** Largest relative RMSE of a changed tensor (null if one was not finite, or none changed). */
  readonly maxRelRmse: number | null;
  /** Median relative RMSE over changed tensors. */
  readonly medianRelRmse: number | null;
  /** Largest absolute error. */
  readonly maxAbs: number | null;
  /** Milliseconds the writer spent deriving it, summed over files. */
  readonly deriveMs: number;
}

/** Everything the pages show of a revision. */
export interface ModelFigures {
  /** Every file, in path order. */
  readonly files: FileFigures[];
  /** Bytes of the original safetensors files. */
  readonly rawBytes: number;
  /** Bytes of their containers. */
  readonly storedBytes: number;
  /** Bytes of every file of the revision as stored (containers, and other files as they are). */
  readonly repoBytes: number;
  /** Tensors across safetensors files. */
  readonly tensorCount: number;
  /** Tensor bytes, raw and as lossless chunks. */
  readonly tensorBytes: Bytes;
  /** Per layer, in load order. */
  readonly layers: (Bytes & { readonly key: string })[];
  /** Per dtype, largest first. */
  readonly dtypes: (Bytes & { readonly dtype: string })[];
  /** Per plane codec, most stored bytes first. */
  readonly codecs: (CodecBytes & { readonly codec: string })[];
  /** Bytes of chunk plane tables (counted in the stored bytes above). */
  readonly planeTableBytes: number;
  /** Tensor rows in load order. */
  readonly rows: TensorRow[];
  /** Variants, in the order the containers list them. */
  readonly variants: VariantFigures[];
}

/** The lossless encoding of `t`, or null in a variant-only container. */
export function losslessEncoding(t: TensorEntry): Lossless | null {
  return (t.encodings.find((e) => e.kind === "lossless") as Lossless | undefined) ?? null;
}

const storedOf = (chunks: readonly (readonly number[])[]) => chunks.reduce((n, c) => n + c[1], 0);
const rawOf = (t: TensorEntry) => t.offsets[1] - t.offsets[0];

/** Figures of `rev`, whose view is `view`, given each container's census by SHA-256. */
export function buildFigures(
  rev: Revision,
  view: CommitView,
  census: ReadonlyMap<string, CodecCensus>,
): ModelFigures {
  const byPath = new Map(view.files.map((f) => [f.file.path, f]));
  const files: FileFigures[] = rev.commit.files.map((f) => {
    const m = byPath.get(f.path);
    return {
      path: f.path,
      size: f.size,
      sha256: f.sha256,
      ...(m && { stored: m.file.container.size, tensors: m.index.tensors.length }),
      ...(f.lastCommit && { lastCommit: f.lastCommit }),
    };
  });
  const rows: TensorRow[] = [];
  const layers: (Bytes & { key: string })[] = [];
  const dtypes = new Map<string, Bytes>();
  const tensorBytes: Bytes = { tensors: 0, raw: 0, stored: 0 };
  view.layers.forEach((l, layerIndex) => {
    const lb = { key: l.key, tensors: 0, raw: 0, stored: 0 };
    for (const { file, tensor: t } of l.tensors) {
      const lossless = losslessEncoding(t);
      const raw = rawOf(t), stored = lossless ? storedOf(lossless.chunks) : 0;
      for (
        const b of [
          lb,
          tensorBytes,
          dtypes.get(t.dtype) ??
            dtypes.set(t.dtype, { tensors: 0, raw: 0, stored: 0 }).get(t.dtype)!,
        ]
      ) {
        b.tensors++;
        b.raw += raw;
        b.stored += stored;
      }
      rows.push({
        name: t.name,
        file: file.file.path,
        dtype: t.dtype,
        shape: t.shape,
        layer: l.key,
        layerIndex,
        raw,
        stored,
        codecs: census.get(file.file.container.sha256)?.tensors.get(t.name) ?? "-",
        sha256: t.sha256,
      });
    }
    layers.push(lb);
  });
  const codecs = new Map<string, CodecBytes>();
  let planeTableBytes = 0;
  for (const f of view.files) {
    const c = census.get(f.file.container.sha256);
    if (!c) continue;
    planeTableBytes += c.tableBytes;
    for (const [name, b] of Object.entries(c.codecs)) {
      const e = codecs.get(name) ?? codecs.set(name, { planes: 0, raw: 0, stored: 0 }).get(name)!;
      e.planes += b.planes;
      e.raw += b.raw;
      e.stored += b.stored;
    }
  }
  const rawBytes = view.files.reduce((n, f) => n + f.file.size, 0);
  const storedBytes = view.files.reduce((n, f) => n + f.file.container.size, 0);
  return {
    files,
    rawBytes,
    storedBytes,
    repoBytes: rev.commit.files.reduce((n, f) => n + (f.container?.size ?? f.size), 0),
    tensorCount: tensorBytes.tensors,
    tensorBytes,
    layers,
    dtypes: [...dtypes].map(([dtype, b]) => ({ dtype, ...b })).sort((a, b) => b.raw - a.raw),
    codecs: [...codecs].map(([codec, b]) => ({ codec, ...b })).sort((a, b) => b.stored - a.stored),
    planeTableBytes,
    rows,
    variants: variantFigures(view),
  };
}

interface LossyRecord {
  readonly kind: string;
  readonly name: string;
  readonly chunks: readonly (readonly number[])[];
  readonly error?: { readonly relRmse: number | null; readonly maxAbs: number | null };
}

const LOSSY = new Set(["int8", "cast", "ternary", "lowrank", "sparse"]);

function variantFigures(view: CommitView): VariantFigures[] {
  const names: string[] = [];
  const deriveMs = new Map<string, number>();
  for (const f of view.files) {
    for (const v of f.index.variants ?? []) {
      if (!deriveMs.has(v.name)) names.push(v.name);
      deriveMs.set(v.name, (deriveMs.get(v.name) ?? 0) + v.deriveMs);
    }
  }
  return names.map((name) => {
    const kinds = new Set<string>();
    const errors: number[] = [];
    let changed = 0, exact = 0, stored = 0, raw = 0, maxAbs: number | null = null;
    let finite = true;
    for (const f of view.files) {
      for (const t of f.index.tensors) {
        raw += rawOf(t);
        const own = t.encodings.find((e) => (e as { name?: string }).name === name) as
          | LossyRecord
          | undefined;
        if (own && LOSSY.has(own.kind)) {
          changed++;
          kinds.add(own.kind);
          stored += storedOf(own.chunks);
          const e = own.error;
          if (e?.relRmse === null || e?.relRmse === undefined) finite = false;
          else errors.push(e.relRmse);
          if (e && e.maxAbs !== null && (maxAbs === null || e.maxAbs > maxAbs)) maxAbs = e.maxAbs;
        } else {
          exact++;
          const l = losslessEncoding(t);
          stored += l ? storedOf(l.chunks) : 0;
        }
      }
    }
    errors.sort((a, b) => a - b);
    return {
      name,
      kinds: [...kinds].sort(),
      changed,
      exact,
      stored,
      raw,
      maxRelRmse: finite && errors.length > 0 ? errors[errors.length - 1] : null,
      medianRelRmse: errors.length > 0 ? errors[Math.floor(errors.length / 2)] : null,
      maxAbs,
      deriveMs: deriveMs.get(name) ?? 0,
    };
  });
}

/** Figures of revisions, computed once per commit. */
export interface FiguresCache {
  /** The figures of `rev`. */
  get(rev: Revision): Promise<ModelFigures>;
}

/**
 * A cache of figures over the server's commit views and leases, holding `capacity` commits and
 * `capacity` containers' censuses.
 */
export function createFiguresCache(
  ctx: Pick<ServerContext, "store" | "views">,
  capacity = 64,
): FiguresCache {
  const figures = new Map<string, Promise<ModelFigures>>();
  const censuses = new Map<string, Promise<CodecCensus>>();
  const remember = <T>(m: Map<string, Promise<T>>, key: string, make: () => Promise<T>) => {
    let p = m.get(key);
    if (p) {
      m.delete(key);
      m.set(key, p);
      return p;
    }
    p = make();
    m.set(key, p);
    p.catch(() => m.delete(key));
    if (m.size > capacity) m.delete(m.keys().next().value!);
    return p;
  };
  const census = (sha256: string) =>
    remember(censuses, sha256, () => withContainer(ctx, sha256, (l) => codecCensus(l.container)));
  return {
    get(rev) {
      return remember(figures, `${rev.id}@${rev.commit.id}`, async () => {
        const view = await ctx.views.get(rev.id, rev.commit);
        const entries = await Promise.all(
          view.files.map(async (f) =>
            [f.file.container.sha256, await census(f.file.container.sha256)] as const
          ),
        );
        return buildFigures(rev, view, new Map(entries));
      });
    },
  };
}
