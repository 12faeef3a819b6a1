/**
 * `/`: the models, with search, size, ratio, tensor count, dtypes, revisions and last update. The
 * search is a GET form, so it works without JavaScript; the page script filters as one types.
 * @module
 */
import { formatBytes, formatCount, formatDate, formatRatio } from "../shared/format.ts";
import { Layout, type PageAssets } from "./layout.tsx";

/** One model as the list shows it (its default branch). */
export interface ModelSummary {
  /** `org/name`. */
  readonly id: string;
  /** The branch summarised. */
  readonly revision: string;
  /** Its head commit. */
  readonly commit: string;
  /** When that commit was made. */
  readonly date: string;
  /** Its title. */
  readonly title: string;
  /** Bytes of the original safetensors files. */
  readonly rawBytes: number;
  /** Bytes of their containers. */
  readonly storedBytes: number;
  /** Files in the tree. */
  readonly files: number;
  /** Tensors. */
  readonly tensors: number;
  /** Bytes of their data in the original files. */
  readonly tensorRaw: number;
  /** Bytes of their lossless chunks. */
  readonly tensorStored: number;
  /** Distinct dtypes, most bytes first. */
  readonly dtypes: readonly string[];
  /** Branch names. */
  readonly branches: readonly string[];
}

/** Properties of {@link HomeView}. */
export interface HomeProps {
  /** Asset URLs. */
  readonly assets: PageAssets;
  /** Every model; those not matching `q` are rendered hidden, for the script to show. */
  readonly models: readonly ModelSummary[];
  /** The search text. */
  readonly q: string;
}

/** Whether `m` matches the search `q` (every term in its id, dtypes or branches). */
export function matchesSearch(m: ModelSummary, q: string): boolean {
  const hay = `${m.id}\n${m.dtypes.join(" ")}\n${m.branches.join(" ")}`.toLowerCase();
  return q.toLowerCase().split(/\s+/).filter(Boolean).every((t) => hay.includes(t));
}

/** The model list. */
export function HomeView(p: HomeProps) {
  const shown = p.models.filter((m) => matchesSearch(m, p.q)).length;
  const total = p.models.length;
  return (
    <Layout title="Models · Tessera" assets={p.assets} current="models">
      <h1>Models</h1>
      <form class="inline" method="get" action="/" role="search">
        <label for="model-search">Search models</label>
        <input
          type="search"
          id="model-search"
          name="q"
          value={p.q}
          placeholder="name, dtype or branch"
          autocomplete="off"
        />
        <button type="submit">Search</button>
      </form>
      <p class="muted" id="model-count" aria-live="polite">
        {p.q ? `${shown} of ${total} models match “${p.q}”` : `${total} models`}
      </p>
      <div class="scroll">
        <table id="models">
          <caption class="visually-hidden">Models, with the size of their default branch</caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col" class="num">Size</th>
              <th scope="col" class="num">Stored</th>
              <th scope="col" class="num" title="raw tensor bytes over their lossless chunks">
                Ratio
              </th>
              <th scope="col" class="num">Tensors</th>
              <th scope="col">Dtypes</th>
              <th scope="col">Revisions</th>
              <th scope="col">Last update</th>
            </tr>
          </thead>
          <tbody>
            {p.models.map((m) => (
              <tr
                data-search={`${m.id}\n${m.dtypes.join(" ")}\n${m.branches.join(" ")}`
                  .toLowerCase()}
                hidden={!matchesSearch(m, p.q)}
              >
                <td class="name">
                  <a href={`/${m.id}`}>{m.id}</a>
                </td>
                <td class="num">{formatBytes(m.rawBytes)}</td>
                <td class="num">{formatBytes(m.storedBytes)}</td>
                <td class="num">{formatRatio(m.tensorRaw, m.tensorStored)}</td>
                <td class="num">{formatCount(m.tensors)}</td>
                <td>{m.dtypes.join(", ") || "-"}</td>
                <td>
                  {m.branches.map((b, i) => (
                    <>
                      {i > 0 && ", "}
                      <a href={`/${m.id}?revision=${encodeURIComponent(b)}`}>{b}</a>
                    </>
                  ))}
                </td>
                <td>
                  <time datetime={m.date} title={m.title}>{formatDate(m.date)}</time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {total === 0 && (
        <p>
          The store holds no model yet. Publish one with <code>tessera push</code> or{" "}
          <code>PUT /v1/models/{"{org}"}/{"{name}"}</code>.
        </p>
      )}
    </Layout>
  );
}
