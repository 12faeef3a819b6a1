/**
 * The web pages and their assets: `/` (models), `/{org}/{name}` (a model),
 * `/{org}/{name}/tensors/{tensor}` (a tensor's tiles and values), `/status`, the files they
 * load under `/-/assets/`, and a model page's tensor rows under `/-/rows/`. Handlers gather what a page shows and hand it to the views in
 * `src/web/views/`; they describe HTTP only. Pages are not part of the JSON API and not in the
 * OpenAPI document (see `src/web/page_route.ts`).
 * @module
 */
import type { ServerContext } from "../src/server/context.ts";
import { geometryOf } from "../src/container/index_schema.ts";
import { gridSize } from "../codec/tiles.ts";
import { HttpError } from "../src/http/http_error.ts";
import { StoreError } from "../src/store/errors.ts";
import { DEFAULT_REVISION } from "../src/store/names.ts";
import { ASSET_PREFIX, createAssetStore } from "../src/web/assets.ts";
import {
  createFiguresCache,
  losslessEncoding,
  type ModelFigures,
} from "../src/web/model_figures.ts";
import { pageHeaders, type PageRoute } from "../src/web/page_route.ts";
import { tileApiUrl } from "../src/web/shared/links.ts";
import { parseExposition, serverFigures } from "../src/web/shared/prometheus.ts";
import { packRows, parseTableQuery, tablePage } from "../src/web/shared/tensor_table.ts";
import { ErrorView } from "../src/web/views/error.tsx";
import { HomeView, type ModelSummary } from "../src/web/views/home.tsx";
import { documentHtml, type PageAssets } from "../src/web/views/layout.tsx";
import { type CommitSummary, ModelView } from "../src/web/views/model.tsx";
import { StatusView } from "../src/web/views/status.tsx";
import { TensorView } from "../src/web/views/tensor.tsx";
import { pickTensor } from "./tensors.ts";
import type { AppContext } from "../src/server/context.ts";

/** Commits listed in a model page's history. */
const HISTORY = 10;

/** Where a model page's script fetches the revision's tensor rows; no org can start with `-`. */
const ROWS_PREFIX = "/-/rows/";

/** The URL of the tensor rows of commit `commit` of `org/name`. */
function rowsUrl(org: string, name: string, commit: string): string {
  return `${ROWS_PREFIX}${encodeURIComponent(org)}/${encodeURIComponent(name)}?revision=${commit}`;
}

/** The web routes and their error page. */
export interface WebRoutes {
  /** Pages and assets, in the order they are matched. */
  readonly pages: PageRoute[];
  /** Renders an error as a page. */
  readonly errorPage: (c: AppContext, status: number, kind: string, message: string) => string;
}

/**
 * The routes.
 *
 * @example
 * ```ts ignore
 * const web = webRoutes(ctx);
 * mountPages(app, ctx, web.pages, web.errorPage);
 * ```
 */
export function webRoutes(ctx: ServerContext): WebRoutes {
  const assets = createAssetStore();
  const figures = createFiguresCache(ctx);
  const summaries = new Map<string, Promise<ModelSummary>>();
  // The packed rows of a revision as JSON, made once per figures (per commit): 183 KB for 3,041
  // tensors, which took 10-20 ms to pack and serialise on each request when pages embedded them.
  const rowsJson = new WeakMap<ModelFigures, Uint8Array<ArrayBuffer>>();
  const packedRowsOf = (fig: ModelFigures) => {
    let bytes = rowsJson.get(fig);
    if (!bytes) {
      const packed = packRows(fig.rows, fig.layers.map((l) => l.key));
      bytes = new TextEncoder().encode(JSON.stringify(packed));
      rowsJson.set(fig, bytes);
    }
    return bytes;
  };
  let baseAssets: { css: string; styles: string; icon: string } | null = null;
  const pageAssets = async (script?: string): Promise<PageAssets> => {
    baseAssets ??= {
      css: await assets.url("app.css"),
      // Inline in each page's head (see PageAssets.styles), without its comments.
      styles: new TextDecoder().decode((await assets.get("app.css"))!.bytes)
        .replace(/\/\*[\s\S]*?\*\/\s*/g, ""),
      icon: await assets.url("favicon.png"),
    };
    return { ...baseAssets, ...(script && { script: await assets.url(script) }) };
  };
  const send = (c: AppContext, body: string, status = 200) =>
    new Response(c.req.method === "HEAD" ? null : body, { status, headers: pageHeaders() });

  const summary = (id: string, branches: string[]): Promise<ModelSummary> => {
    const [org, name] = id.split("/");
    const branch = branches.includes(DEFAULT_REVISION) ? DEFAULT_REVISION : branches[0];
    return ctx.store.reader.resolve(org, name, branch).then((rev) => {
      const key = `${id}@${rev.commit.id}`;
      let p = summaries.get(key);
      if (!p) {
        p = ctx.views.get(rev.id, rev.commit).then((view) => {
          const dtypeBytes = new Map<string, number>();
          let tensors = 0, tensorRaw = 0, tensorStored = 0;
          for (const f of view.files) {
            for (const t of f.index.tensors) {
              const raw = t.offsets[1] - t.offsets[0];
              tensors++;
              tensorRaw += raw;
              tensorStored += losslessEncoding(t)?.chunks.reduce((n, c) => n + c[1], 0) ?? 0;
              dtypeBytes.set(t.dtype, (dtypeBytes.get(t.dtype) ?? 0) + raw);
            }
          }
          return {
            id,
            revision: branch,
            commit: rev.commit.id,
            date: rev.commit.date,
            title: rev.commit.title,
            rawBytes: view.files.reduce((n, f) => n + f.file.size, 0),
            storedBytes: view.files.reduce((n, f) => n + f.file.container.size, 0),
            files: rev.commit.files.length,
            tensors,
            tensorRaw,
            tensorStored,
            dtypes: [...dtypeBytes].sort((a, b) => b[1] - a[1]).map(([d]) => d),
            branches,
          };
        });
        summaries.set(key, p);
        p.catch(() => summaries.delete(key));
        if (summaries.size > 1024) summaries.delete(summaries.keys().next().value!);
      }
      return p.then((s) => ({ ...s, branches }));
    });
  };

  const pages: PageRoute[] = [
    {
      path: `${ASSET_PREFIX}{file}`,
      summary: "A file the pages load: stylesheet, scripts, icon, WebAssembly kernels",
      handler: async (c, { file }) => {
        const a = await assets.get(file);
        if (!a) throw new HttpError(404, "not_found", `no asset ${file}`);
        const etag = `"${a.hash}"`;
        const headers: Record<string, string> = {
          "Content-Type": a.type,
          ETag: etag,
          "X-Content-Type-Options": "nosniff",
          "Cache-Control": c.req.query("v") === a.hash
            ? "public, max-age=31536000, immutable"
            : "no-cache",
        };
        if (c.req.header("If-None-Match")?.split(/\s*,\s*/).includes(etag)) {
          return new Response(null, { status: 304, headers });
        }
        headers["Content-Length"] = String(a.bytes.length);
        return new Response(c.req.method === "HEAD" ? null : a.bytes, { headers });
      },
    },
    {
      path: `${ROWS_PREFIX}{org}/{name}`,
      summary: "A revision's tensor rows, which the model page's table filters and sorts",
      handler: async (c, { org, name }) => {
        const asked = c.req.query("revision") ?? null;
        const rev = await ctx.store.reader.resolve(org, name, asked);
        const bytes = packedRowsOf(await figures.get(rev));
        const etag = `"rows-${rev.commit.id}"`;
        const headers: Record<string, string> = {
          "Content-Type": "application/json",
          ETag: etag,
          "X-Content-Type-Options": "nosniff",
          // Named by its commit the answer never changes; by a branch it moves with the branch.
          "Cache-Control": asked === rev.commit.id
            ? "public, max-age=31536000, immutable"
            : "no-cache",
        };
        if (c.req.header("If-None-Match")?.split(/\s*,\s*/).includes(etag)) {
          return new Response(null, { status: 304, headers });
        }
        headers["Content-Length"] = String(bytes.length);
        return new Response(c.req.method === "HEAD" ? null : bytes, { headers });
      },
    },
    {
      path: "/",
      summary: "The models, with search",
      handler: async (c) => {
        const q = (c.req.query("q") ?? "").slice(0, 200);
        const listed = await ctx.store.reader.list();
        const all = (await Promise.all(
          listed.map((m) => summary(m.id, [...m.branches]).catch(() => null)),
        )).filter((m): m is ModelSummary => m !== null);
        return send(
          c,
          documentHtml(
            <HomeView assets={await pageAssets("home.js")} models={all} q={q} />,
          ),
        );
      },
    },
    {
      path: "/status",
      summary: "Live charts of request rate, bytes out, cache hit ratio and decode throughput",
      handler: async (c) => {
        const text = ctx.metrics.render(ctx.cache.figures());
        return send(
          c,
          documentHtml(
            <StatusView
              assets={await pageAssets("status.js")}
              figures={serverFigures(parseExposition(text))}
              uptimeSeconds={(Date.now() - ctx.startedAt) / 1000}
              openContainers={ctx.store.leases.open}
              workers={ctx.pool.size}
            />,
          ),
        );
      },
    },
    {
      path: "/{org}/{name}",
      summary: "A model: files, revisions, where its bytes go, tensors, variants, download",
      handler: async (c, { org, name }) => {
        const url = new URL(c.req.url);
        const rev = await ctx.store.reader.resolve(org, name, url.searchParams.get("revision"));
        const [{ refs }, fig] = await Promise.all([
          ctx.store.reader.refs(org, name),
          figures.get(rev),
        ]);
        const history: CommitSummary[] = [];
        for await (const commit of ctx.store.reader.history(org, name, rev.commit)) {
          history.push(commit);
          if (history.length >= HISTORY) break;
        }
        const query = parseTableQuery(url.searchParams);
        const table = tablePage(fig.rows, query);
        const seen = new Set<string>(), duplicates = new Set<string>();
        for (const r of fig.rows) (seen.has(r.name) ? duplicates : seen).add(r.name);
        const largest = fig.rows.reduce<typeof fig.rows[number] | null>(
          (best, r) => (r.stored > 0 && (!best || r.raw > best.raw) ? r : best),
          null,
        );
        const histogramTensor = url.searchParams.get("hist") ?? largest?.name ?? null;
        const safetensors = fig.files.filter((f) => f.stored !== undefined);
        const single = safetensors.length === 1 ? safetensors[0] : null;
        const revParam = rev.branch === DEFAULT_REVISION ? null : rev.revision;
        const assetsForPage = await pageAssets("model.js");
        const data = {
          org,
          name,
          commit: rev.commit.id,
          revision: revParam,
          duplicates: [...duplicates],
          layers: fig.layers.map((l) => [l.key, l.raw, l.stored, l.tensors]),
          histogramTensor,
          rowsUrl: rowsUrl(org, name, rev.commit.id),
          charts: await assets.url("model_charts.js"),
          download: single && {
            file: single.path,
            size: single.size,
            stored: single.stored,
            sha256: single.sha256,
            modelUrl: `/v1/models/${org}/${name}?revision=${rev.commit.id}`,
            containerUrl: `/v1/models/${org}/${name}/container?revision=${rev.commit.id}`,
            script: await assets.url("download.js"),
            wasm: await assets.url("tsr_kernel.wasm"),
          },
        };
        return send(
          c,
          documentHtml(
            <ModelView
              assets={assetsForPage}
              org={org}
              name={name}
              revision={rev.revision}
              branch={rev.branch}
              commit={rev.commit}
              branches={Object.entries(refs.branches).sort().map(([b, id]) => ({
                name: b,
                commit: id,
              }))}
              history={history}
              figures={fig}
              query={query}
              table={table}
              origin={url.origin}
              search={url.searchParams}
              histogramTensor={histogramTensor}
              data={data}
              rows={data.rowsUrl}
            />,
          ),
        );
      },
    },
    {
      path: "/{org}/{name}/tensors/{tensor}",
      rest: "tensor",
      summary: "A tensor: its tiles by compression ratio, and one tile's values",
      handler: async (c, { org, name, tensor }) => {
        const url = new URL(c.req.url);
        const rev = await ctx.store.reader.resolve(org, name, url.searchParams.get("revision"));
        const view = await ctx.views.get(rev.id, rev.commit);
        const ref = pickTensor(
          view.tensors.get(tensor),
          tensor,
          url.searchParams.get("file") ?? undefined,
          `${rev.id}@${rev.revision}`,
        );
        const t = ref.tensor;
        const lossless = losslessEncoding(t);
        if (!lossless) {
          throw new StoreError(
            "file_not_found",
            `${rev.id}@${rev.revision}: tensor ${
              JSON.stringify(t.name)
            } is stored only as variants`,
          );
        }
        const g = geometryOf(t);
        const [gridRows, gridCols] = gridSize(g);
        const chunks = lossless.chunks.map(([, stored, raw, , xxh]) => [stored, raw, xxh] as const);
        const asked = Number(url.searchParams.get("tile") ?? 0);
        const tile = Number.isSafeInteger(asked) && asked >= 0 && asked < chunks.length ? asked : 0;
        const grid = {
          rows: g.rows,
          cols: g.cols,
          tileRows: g.tileRows,
          tileCols: g.tileCols,
          gridRows,
          gridCols,
        };
        const file = ref.file.file.path;
        const tr = Math.floor(tile / Math.max(1, gridCols)), tc = tile % Math.max(1, gridCols);
        const rect = [
          tr * g.tileRows,
          Math.min(g.rows, (tr + 1) * g.tileRows),
          tc * g.tileCols,
          Math.min(g.cols, (tc + 1) * g.tileCols),
        ] as const;
        const revParam = rev.branch === DEFAULT_REVISION ? null : rev.revision;
        const raw = t.offsets[1] - t.offsets[0];
        const stored = lossless.chunks.reduce((n, ch) => n + ch[1], 0);
        return send(
          c,
          documentHtml(
            <TensorView
              assets={await pageAssets("tensor.js")}
              org={org}
              name={name}
              revision={revParam}
              commit={rev.commit.id}
              file={file}
              tensor={{
                name: t.name,
                dtype: t.dtype,
                shape: t.shape,
                layer: t.layer,
                sha256: t.sha256,
                raw,
                stored,
              }}
              grid={grid}
              chunks={chunks}
              tile={tile}
              tileUrl={tileApiUrl(org, name, rev.commit.id, { name: t.name, file }, rect)}
              data={{
                org,
                name,
                commit: rev.commit.id,
                revision: revParam,
                file,
                tensor: t.name,
                dtype: t.dtype,
                grid,
                chunks,
                tile,
              }}
            />,
          ),
        );
      },
    },
  ];

  return {
    pages,
    errorPage: (_c, status, kind, message) => {
      // Synchronous: the shell's asset URLs are known once any page was served, else plain paths.
      const a = baseAssets ?? { css: `${ASSET_PREFIX}app.css`, icon: `${ASSET_PREFIX}favicon.png` };
      return documentHtml(<ErrorView assets={a} status={status} kind={kind} message={message} />);
    },
  };
}
