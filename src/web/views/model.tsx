/**
 * `/{org}/{name}`, the model page: files and revisions with the snippets to download the model,
 * where its bytes go (per layer, per dtype, per plane codec), the exponent histogram of a chosen
 * tensor, the tensor table, the variants, and the download panel. Everything but the charts and
 * the in-page download works without JavaScript: the table's filter, sort and pages are links.
 * @module
 */
import type { ModelFigures } from "../model_figures.ts";
import {
  formatBytes,
  formatCount,
  formatDate,
  formatPercent,
  formatRatio,
} from "../shared/format.ts";
import {
  COLUMNS,
  type TablePage,
  type TableQuery,
  tensorCells,
  type TensorRow,
  writeTableQuery,
} from "../shared/tensor_table.ts";
import { modelHref, tensorHref } from "../shared/links.ts";
import { Facts, Layout, type PageAssets } from "./layout.tsx";

/** A commit as the page lists it. */
export interface CommitSummary {
  /** Its id. */
  readonly id: string;
  /** Title. */
  readonly title: string;
  /** ISO date. */
  readonly date: string;
  /** Author. */
  readonly author: string;
}

/** Properties of {@link ModelView}. */
export interface ModelProps {
  /** Data for the page script. */
  readonly data: unknown;
  /** The URL of the revision's tensor rows, which the page script starts with. */
  readonly rows: string;
  /** Asset URLs. */
  readonly assets: PageAssets;
  /** Org. */
  readonly org: string;
  /** Name. */
  readonly name: string;
  /** The revision as asked (branch or commit id). */
  readonly revision: string;
  /** The branch, when the revision names one. */
  readonly branch: string | null;
  /** The commit shown. */
  readonly commit: CommitSummary;
  /** Branches and their head commits. */
  readonly branches: readonly { readonly name: string; readonly commit: string }[];
  /** The last commits of the revision, newest first. */
  readonly history: readonly CommitSummary[];
  /** The figures. */
  readonly figures: ModelFigures;
  /** The table query from the URL. */
  readonly query: TableQuery;
  /** The table page it selects. */
  readonly table: TablePage;
  /** This server's origin, for the snippets. */
  readonly origin: string;
  /** The page's own path and query (for links that change only the table query). */
  readonly search: URLSearchParams;
  /** The tensor whose exponents are charted first. */
  readonly histogramTensor: string | null;
}

function Snippet(p: { id: string; label: string; code: string }) {
  return (
    <div class="snippet-block">
      <div class="snippet-head">
        <span id={`${p.id}-label`}>{p.label}</span>
        {
          /* Shown by the page script as it wires the table: the first frame that paints it is the
          first made since, and Element Timing gives when that frame was presented
          (test/web/page_timing.ts reads it). Invisible until then, not absent: a button appearing
          in this row would move everything below it, the table too, and the frame that shows the
          wired table would re-raster the whole screen (60 ms after the first paint, quiet). */
        }
        <button type="button" class="copy unwired" data-copy={p.id} elementtiming="tessera-wired">
          Copy
        </button>
      </div>
      {/* It wraps (the stylesheet) rather than scrolls, so it needs no tab stop to be read. */}
      <pre class="snippet" id={p.id} aria-labelledby={`${p.id}-label`}><code>{p.code}</code></pre>
    </div>
  );
}

function BytesBar(p: { raw: number; stored: number; max: number }) {
  const w = (n: number) => `${p.max > 0 ? (100 * n) / p.max : 0}%`;
  return (
    <div
      class="bar"
      role="img"
      aria-label={`${formatBytes(p.stored)} stored of ${formatBytes(p.raw)}`}
    >
      <span class="stored" style={`width:${w(p.stored)}`}></span>
      <span class="saved" style={`width:${w(Math.max(0, p.raw - p.stored))}`}></span>
    </div>
  );
}

/** The tensor table: filter form, sortable headers, rows of the page, pager. */
export function TensorTable(
  p: {
    query: TableQuery;
    table: TablePage;
    total: number;
    search: URLSearchParams;
    href: (r: TensorRow) => string;
  },
) {
  const link = (q: Partial<TableQuery>) =>
    `?${writeTableQuery(new URLSearchParams(p.search), { ...p.query, ...q })}#tensors`;
  const { table, query } = p;
  // The stylesheet sizes each column (a fixed layout). Server-rendered once, these need no key,
  // which hono/jsx would print as an attribute.
  // deno-lint-ignore jsx-key
  const widths = COLUMNS.map((col) => <col class={`col-${col.key}`} />);
  return (
    <section aria-labelledby="tensors">
      <h2 id="tensors">Tensors</h2>
      <form class="inline" method="get" action="#tensors" id="tensor-filter">
        {[...p.search].filter(([k]) => !["tq", "page"].includes(k)).map(([k, v]) => (
          <input type="hidden" name={k} value={v} />
        ))}
        <label for="tensor-q">Filter tensors</label>
        <input
          type="search"
          id="tensor-q"
          name="tq"
          value={query.q}
          placeholder="name, dtype, layer or codec"
          autocomplete="off"
        />
        <button type="submit">Filter</button>
      </form>
      <p class="muted" id="tensor-count" aria-live="polite">
        {table.matching === p.total
          ? `${formatCount(p.total)} tensors`
          : `${formatCount(table.matching)} of ${formatCount(p.total)} tensors match`}
        {table.matching > 0 &&
          ` · showing ${formatCount(table.first + 1)}–${
            formatCount(table.first + table.rows.length)
          }`}
      </p>
      <div class="scroll">
        <table id="tensor-table">
          <caption class="visually-hidden">
            Tensors: select a column header to sort by it
          </caption>
          <colgroup>
            {widths}
          </colgroup>
          <thead>
            <tr>
              {COLUMNS.map((col, i) => {
                const active = col.sort !== undefined && query.sort === col.sort;
                const dir = active && query.dir === "asc" ? "desc" : "asc";
                const numeric = i >= 4 && i <= 6;
                return (
                  <th
                    scope="col"
                    class={numeric ? "num" : undefined}
                    aria-sort={active
                      ? (query.dir === "asc" ? "ascending" : "descending")
                      : undefined}
                    data-sort={col.sort}
                  >
                    {col.sort
                      ? (
                        <a class="sort" href={link({ sort: col.sort, dir, page: 1 })}>
                          {col.label}
                          <span class="arrow" aria-hidden="true"></span>
                        </a>
                      )
                      : col.label}
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {table.rows.map((r) => (
              <tr>
                {tensorCells(r, p.href).map((c, i) => (
                  <td class={c.numeric ? "num" : i === 0 ? "name" : undefined} title={c.title}>
                    {c.href
                      ? <a href={c.href}>{c.text}</a>
                      : i === 8
                      ? <code>{c.text}</code>
                      : c.text}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Tensor table pages" id="tensor-pager">
        {table.page > 1
          ? <a href={link({ page: table.page - 1 })} rel="prev">← Previous</a>
          : <span class="muted">← Previous</span>}
        <span>Page {table.page} of {table.pages}</span>
        {table.page < table.pages
          ? <a href={link({ page: table.page + 1 })} rel="next">Next →</a>
          : <span class="muted">Next →</span>}
      </nav>
    </section>
  );
}

/** The model page. */
export function ModelView(p: ModelProps) {
  const f = p.figures;
  const id = `${p.org}/${p.name}`;
  const revParam = p.branch === "main" ? null : p.revision;
  const hfRevision = p.branch ?? p.commit.id;
  const safetensors = f.files.filter((x) => x.stored !== undefined);
  const single = safetensors.length === 1 ? safetensors[0] : null;
  const maxLayer = Math.max(1, ...f.layers.map((l) => l.raw));
  const maxDtype = Math.max(1, ...f.dtypes.map((d) => d.raw));
  const duplicateNames = new Set<string>();
  {
    const seen = new Set<string>();
    for (const r of f.rows) (seen.has(r.name) ? duplicateNames : seen).add(r.name);
  }
  const href = (r: TensorRow) => tensorHref(p.org, p.name, revParam, r, duplicateNames.has(r.name));
  const resolve = (path: string) =>
    `/${id}/resolve/${p.commit.id}/${path.split("/").map(encodeURIComponent).join("/")}`;
  return (
    <Layout
      title={`${id} · Tessera`}
      assets={p.assets}
      data={p.data}
      startWith={p.rows}
      current="models"
    >
      <p class="crumbs">
        <a href="/">Models</a> / {p.org}
      </p>
      <h1>{id}</h1>
      <p class="muted">
        {p.branch
          ? (
            <>
              branch <strong>{p.branch}</strong> at
            </>
          )
          : <>commit</>}
        <code title={p.commit.id}>{p.commit.id.slice(0, 10)}</code> · {p.commit.title} ·{" "}
        <time datetime={p.commit.date}>{formatDate(p.commit.date)}</time>
      </p>
      <Facts
        label="Model figures"
        items={[
          ["Size", formatBytes(f.rawBytes)],
          [f.variants.length > 0 ? "Stored, with variants" : "Stored", formatBytes(f.storedBytes)],
          ["Lossless ratio", formatRatio(f.tensorBytes.raw, f.tensorBytes.stored)],
          ["Saved", formatPercent(f.tensorBytes.raw - f.tensorBytes.stored, f.tensorBytes.raw)],
          ["Tensors", formatCount(f.tensorCount)],
          ["Layers", formatCount(f.layers.length)],
          ["Dtypes", f.dtypes.map((d) => d.dtype).join(", ") || "-"],
          ["Files", formatCount(f.files.length)],
        ]}
      />

      <div class="grid2">
        <section aria-labelledby="use" class="card">
          <h2 id="use">Use this model</h2>
          <Snippet
            id="snippet-py"
            label="Python (huggingface_hub)"
            code={`from huggingface_hub import snapshot_download\n\npath = snapshot_download(\n    "${id}",\n    revision="${hfRevision}",\n    endpoint="${p.origin}",\n)`}
          />
          <Snippet
            id="snippet-cli"
            label="Command line"
            code={`HF_ENDPOINT=${p.origin} huggingface-cli download ${id} --revision ${hfRevision}`}
          />
          {single && (
            <Snippet
              id="snippet-pull"
              label="Tessera (compressed transfer, verified)"
              code={`deno task pull "${p.origin}/v1/models/${id}?revision=${hfRevision}" model.safetensors`}
            />
          )}
        </section>
        <section aria-labelledby="download" class="card" id="download-panel">
          <h2 id="download">Download in the browser</h2>
          {single
            ? (
              <>
                <p>
                  Fetches the container's chunks ({formatBytes(single.stored!)}) and decodes them in
                  this page, checking every tensor's and the whole file's SHA-256, then saves{" "}
                  <code>{single.path}</code> ({formatBytes(single.size)}).
                </p>
                <noscript>
                  <p>
                    This needs JavaScript. <a href={resolve(single.path)}>Download the file</a>{" "}
                    decoded by the server instead.
                  </p>
                </noscript>
                <button type="button" class="primary" id="download-start" disabled>
                  Download {single.path}
                </button>
                <div id="download-progress" hidden>
                  <label for="download-bar" class="muted">Progress</label>
                  <progress id="download-bar" max={single.size} value={0}></progress>
                  <ul class="facts" aria-label="Download progress">
                    <li>
                      <span class="k">Layers</span>
                      <span class="v" id="dl-layers">0 / {f.layers.length}</span>
                    </li>
                    <li>
                      <span class="k">Rate</span>
                      <span class="v" id="dl-rate">-</span>
                    </li>
                    <li>
                      <span class="k">Received</span>
                      <span class="v" id="dl-received">-</span>
                    </li>
                    <li>
                      <span class="k">Saved by compression</span>
                      <span class="v" id="dl-saved">-</span>
                    </li>
                  </ul>
                </div>
                <p id="download-status" role="status" aria-live="polite"></p>
              </>
            )
            : (
              <p>
                The in-page download loads single-file models; this revision has{" "}
                {safetensors.length} safetensors files. Download them from the file list below.
              </p>
            )}
        </section>
      </div>

      <section aria-labelledby="files">
        <h2 id="files">Files</h2>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col" class="num">Size</th>
                <th scope="col" class="num">Stored</th>
                <th scope="col" class="num">Ratio</th>
                <th scope="col" class="hide-narrow">SHA-256</th>
                <th scope="col" class="hide-narrow">Last change</th>
              </tr>
            </thead>
            <tbody>
              {f.files.map((x) => (
                <tr>
                  <td class="name">
                    <a href={resolve(x.path)} download>{x.path}</a>
                  </td>
                  <td class="num">{formatBytes(x.size)}</td>
                  <td class="num">{x.stored !== undefined ? formatBytes(x.stored) : "as is"}</td>
                  <td class="num">
                    {x.stored !== undefined ? formatRatio(x.size, x.stored) : "-"}
                  </td>
                  <td class="hide-narrow" title={x.sha256}>
                    <code>{x.sha256.slice(0, 12)}</code>
                  </td>
                  <td class="hide-narrow">
                    {`${(x.lastCommit ?? p.commit).title} · ${
                      formatDate((x.lastCommit ?? p.commit).date)
                    }`}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section aria-labelledby="revisions">
        <h2 id="revisions">Revisions</h2>
        <div class="grid2">
          <div>
            <h3>Branches</h3>
            <ul>
              {p.branches.map((b) => (
                <li>
                  <a
                    href={modelHref(p.org, p.name, b.name === "main" ? null : b.name)}
                    aria-current={b.name === p.branch ? "page" : undefined}
                  >
                    {b.name}
                  </a>{" "}
                  <code class="muted">{b.commit.slice(0, 10)}</code>
                </li>
              ))}
            </ul>
          </div>
          <div>
            <h3>History</h3>
            <ol>
              {p.history.map((c) => (
                <li>
                  <a href={modelHref(p.org, p.name, c.id)}>
                    <code>{c.id.slice(0, 10)}</code>
                  </a>{" "}
                  {c.title} <span class="muted">· {formatDate(c.date)}</span>
                </li>
              ))}
            </ol>
          </div>
        </div>
      </section>

      <section aria-labelledby="bytes">
        <h2 id="bytes">Where the bytes go</h2>
        <figure>
          <figcaption id="layer-chart-caption">
            Raw and stored bytes per layer, in load order, and the ratio per layer (tensor data
            only; the container also holds the index and the original header)
          </figcaption>
          <ul class="legend" aria-hidden="true">
            <li>
              <span class="swatch" style="background:var(--stored)"></span>stored
            </li>
            <li>
              <span class="swatch" style="background:var(--saved)"></span>saved (raw − stored)
            </li>
            <li>
              <span class="swatch" style="background:var(--ratio)"></span>ratio (right axis)
            </li>
          </ul>
          <div
            class="chart"
            id="layer-chart"
            role="img"
            aria-labelledby="layer-chart-caption"
            data-chart="layers"
          >
          </div>
          <details>
            <summary>Per-layer figures as a table</summary>
            <div class="scroll">
              <table id="layer-table">
                <thead>
                  <tr>
                    <th scope="col">Layer</th>
                    <th scope="col" class="num">Tensors</th>
                    <th scope="col" class="num">Raw</th>
                    <th scope="col" class="num">Stored</th>
                    <th scope="col" class="num">Ratio</th>
                    <th scope="col">Stored and saved</th>
                  </tr>
                </thead>
                <tbody>
                  {f.layers.map((l) => (
                    <tr>
                      <td class="name">{l.key}</td>
                      <td class="num">{formatCount(l.tensors)}</td>
                      <td class="num">{formatBytes(l.raw)}</td>
                      <td class="num">{formatBytes(l.stored)}</td>
                      <td class="num">{formatRatio(l.raw, l.stored)}</td>
                      <td>
                        <BytesBar raw={l.raw} stored={l.stored} max={maxLayer} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </figure>
        <div class="grid2">
          <div>
            <h3 id="by-dtype">By dtype</h3>
            <div class="scroll">
              <table aria-labelledby="by-dtype" id="dtype-table">
                <thead>
                  <tr>
                    <th scope="col">Dtype</th>
                    <th scope="col" class="num">Tensors</th>
                    <th scope="col" class="num">Raw</th>
                    <th scope="col" class="num">Stored</th>
                    <th scope="col" class="num">Ratio</th>
                    <th scope="col">Stored and saved</th>
                  </tr>
                </thead>
                <tbody>
                  {f.dtypes.map((d) => (
                    <tr>
                      <td>{d.dtype}</td>
                      <td class="num">{formatCount(d.tensors)}</td>
                      <td class="num">{formatBytes(d.raw)}</td>
                      <td class="num">{formatBytes(d.stored)}</td>
                      <td class="num">{formatRatio(d.raw, d.stored)}</td>
                      <td>
                        <BytesBar raw={d.raw} stored={d.stored} max={maxDtype} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
          <div>
            <h3 id="by-codec">By plane codec</h3>
            <div class="scroll">
              <table aria-labelledby="by-codec" id="codec-table">
                <thead>
                  <tr>
                    <th scope="col">Codec</th>
                    <th scope="col" class="num">Planes</th>
                    <th scope="col" class="num">Raw</th>
                    <th scope="col" class="num">Stored</th>
                    <th scope="col" class="num">Ratio</th>
                    <th scope="col" class="num">Share of stored</th>
                  </tr>
                </thead>
                <tbody>
                  {f.codecs.map((c) => (
                    <tr>
                      <td>{c.codec}</td>
                      <td class="num">{formatCount(c.planes)}</td>
                      <td class="num">{formatBytes(c.raw)}</td>
                      <td class="num">{formatBytes(c.stored)}</td>
                      <td class="num">{formatRatio(c.raw, c.stored)}</td>
                      <td class="num">{formatPercent(c.stored, f.tensorBytes.stored)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p class="muted">
              Each chunk splits its elements into byte planes and codes each plane with the smallest
              codec that pays; plane tables take {formatBytes(f.planeTableBytes)}.
            </p>
          </div>
        </div>
      </section>

      <section aria-labelledby="exponents">
        <h2 id="exponents">Exponent histogram</h2>
        <form class="inline" id="hist-form" action="#exponents">
          <label for="hist-tensor">Tensor</label>
          <input
            type="text"
            id="hist-tensor"
            name="hist"
            list="hist-names"
            value={p.histogramTensor ?? ""}
            size={40}
            autocomplete="off"
          />
          <datalist id="hist-names"></datalist>
          <button type="submit">Show</button>
        </form>
        <figure>
          <figcaption id="hist-caption">
            How many elements have each exponent (the biased exponent field, unbiased on the axis)
          </figcaption>
          <div class="chart" id="hist-chart" role="img" aria-labelledby="hist-caption"></div>
          <p class="muted" id="hist-note" aria-live="polite">
            <noscript>The histogram is drawn by the page script.</noscript>
          </p>
        </figure>
      </section>

      {f.variants.length > 0 && (
        <section aria-labelledby="variants">
          <h2 id="variants">Variants</h2>
          <p class="muted">
            Lossy representations kept beside the lossless one; a tensor a variant does not change
            is served exact under its name.
          </p>
          <div class="scroll">
            <table id="variant-table">
              <thead>
                <tr>
                  <th scope="col">Variant</th>
                  <th scope="col">Kinds</th>
                  <th scope="col" class="num">Changed</th>
                  <th scope="col" class="num">Exact</th>
                  <th scope="col" class="num">Size</th>
                  <th scope="col" class="num">Of raw</th>
                  <th scope="col" class="num">Max rel. RMSE</th>
                  <th scope="col" class="num">Median rel. RMSE</th>
                  <th scope="col" class="num">Max abs. error</th>
                </tr>
              </thead>
              <tbody>
                {f.variants.map((v) => (
                  <tr>
                    <td>
                      <code>{v.name}</code>
                    </td>
                    <td>{v.kinds.join(", ") || "-"}</td>
                    <td class="num">{formatCount(v.changed)}</td>
                    <td class="num">{formatCount(v.exact)}</td>
                    <td class="num">{formatBytes(v.stored)}</td>
                    <td class="num">{formatPercent(v.stored, v.raw)}</td>
                    <td class="num">
                      {v.maxRelRmse === null ? "-" : v.maxRelRmse.toExponential(2)}
                    </td>
                    <td class="num">
                      {v.medianRelRmse === null ? "-" : v.medianRelRmse.toExponential(2)}
                    </td>
                    <td class="num">{v.maxAbs === null ? "-" : v.maxAbs.toPrecision(3)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}

      <TensorTable
        query={p.query}
        table={p.table}
        total={f.rows.length}
        search={p.search}
        href={href}
      />
    </Layout>
  );
}
