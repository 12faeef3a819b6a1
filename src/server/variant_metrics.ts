/**
 * The compression manager's statistics in `/metrics`: per model (each repo's default branch) and
 * variant, the figures of the manifest's `variants` as labelled gauges. Computed when scraped,
 * from the commit views, and kept per head commit, so a scrape costs a refs read per repo.
 * @module
 */
import { type VariantStats, variantStats } from "../container/variant_stats.ts";
import { DEFAULT_REVISION } from "../store/names.ts";
import type { Family } from "./metrics.ts";
import { type RevisionContext, viewVariants } from "./variant_revisions.ts";

// Statistics of each head commit seen, per store: commit id -> one entry per variant.
const computed = new WeakMap<object, Map<string, VariantStats[]>>();

/**
 * The variant statistics of every model as metric families.
 *
 * @example
 * ```ts ignore
 * const text = ctx.metrics.render(ctx.cache.figures(), {}, await variantFamilies(ctx));
 * ```
 */
export async function variantFamilies(ctx: RevisionContext): Promise<Family[]> {
  let cache = computed.get(ctx.store);
  if (!cache) computed.set(ctx.store, cache = new Map());
  const rows: { model: string; s: VariantStats }[] = [];
  for (const m of await ctx.store.reader.list()) {
    const branch = m.branches.includes(DEFAULT_REVISION) ? DEFAULT_REVISION : m.branches[0];
    if (branch === undefined) continue;
    const [org, name] = m.id.split("/");
    const rev = await ctx.store.reader.resolve(org, name, branch).catch(() => null);
    if (!rev) continue;
    let stats = cache.get(rev.commit.id);
    if (!stats) {
      const view = await ctx.views.get(rev.id, rev.commit).catch(() => null);
      if (!view) continue;
      const indexes = view.files.map((f) => f.index);
      stats = viewVariants(view).map((v) => variantStats(indexes, v));
      cache.set(rev.commit.id, stats);
      if (cache.size > 4096) cache.delete(cache.keys().next().value!);
    }
    for (const s of stats) rows.push({ model: m.id, s });
  }
  const gauge = (
    name: string,
    help: string,
    value: (s: VariantStats) => number,
  ): Family => ({
    name,
    help,
    type: "gauge",
    rows: rows.map(({ model, s }) => ({ labels: { model, variant: s.name }, value: value(s) })),
  });
  return [
    {
      name: "tessera_variant_tensors",
      help: "Tensors of each model's default branch by how the variant stores them (kind; " +
        "exact: lossless).",
      type: "gauge",
      rows: rows.flatMap(({ model, s }) =>
        Object.entries(s.kinds).map(([kind, n]) => ({
          labels: { model, variant: s.name, kind },
          value: n,
        }))
      ),
    },
    gauge(
      "tessera_variant_ratio",
      "Raw bytes / stored bytes of the whole variant.",
      (s) => s.ratio,
    ),
    gauge(
      "tessera_variant_average_ratio",
      "Mean over the variant's lossy tensors of raw bytes / stored bytes.",
      (s) => s.averageRatio,
    ),
    gauge(
      "tessera_variant_stored_bytes",
      "Bytes a reader of the variant fetches.",
      (s) => s.storedBytes,
    ),
    gauge(
      "tessera_variant_saved_bytes",
      "Memory saved by the variant: raw bytes - stored bytes.",
      (s) => s.savedBytes,
    ),
    gauge(
      "tessera_variant_derive_ms_per_tensor",
      "Milliseconds spent deriving the variant, per tensor of the model.",
      (s) => s.deriveMsPerTensor,
    ),
    gauge(
      "tessera_variant_decode_ms_per_tensor",
      "Milliseconds to decode one of the variant's lossy tensors (one thread, measured at derive).",
      (s) => s.decodeMsPerTensor,
    ),
  ];
}
