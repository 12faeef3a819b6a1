/**
 * The tensor view, showing random access at work: the map of the tensor's tiles coloured by
 * compression ratio (each tile a link), and for the chosen tile a heatmap of its values fetched
 * through the tile API and decoded in the page, their histogram, and a badge once the bytes
 * match the checksum the container recorded for that tile. Only the chosen tile is fetched, never
 * the whole tensor.
 * @module
 */
import { formatBytes, formatCount, formatRatio, formatShape } from "../shared/format.ts";
import { Facts, Layout, type PageAssets } from "./layout.tsx";
import { modelHref } from "../shared/links.ts";

/** The tile grid of a tensor (docs/FORMAT.md, "Tiles"). */
export interface TileGrid {
  /** Rows of the matrix view. */
  readonly rows: number;
  /** Columns of the matrix view. */
  readonly cols: number;
  /** Rows per tile. */
  readonly tileRows: number;
  /** Columns per tile. */
  readonly tileCols: number;
  /** Tiles down. */
  readonly gridRows: number;
  /** Tiles across. */
  readonly gridCols: number;
}

/** One tile's chunk: stored bytes, raw bytes, XXH32 of the raw bytes. */
export type TileChunk = readonly [stored: number, raw: number, rawXxh32: number];

/** Properties of {@link TensorView}. */
export interface TensorProps {
  /** Data for the page script. */
  readonly data: unknown;
  /** Asset URLs. */
  readonly assets: PageAssets;
  /** Org. */
  readonly org: string;
  /** Model name. */
  readonly name: string;
  /** Revision in links (null: the default branch). */
  readonly revision: string | null;
  /** The commit shown. */
  readonly commit: string;
  /** The file that holds the tensor. */
  readonly file: string;
  /** The tensor. */
  readonly tensor: {
    readonly name: string;
    readonly dtype: string;
    readonly shape: readonly number[];
    readonly layer: string;
    readonly sha256: string;
    readonly raw: number;
    readonly stored: number;
  };
  /** Its tile grid. */
  readonly grid: TileGrid;
  /** Its chunks, one per tile. */
  readonly chunks: readonly TileChunk[];
  /** The tile chosen. */
  readonly tile: number;
  /** The tile's URL through the tile API. */
  readonly tileUrl: string;
}

/** Rows and columns `[r0, r1) × [c0, c1)` of tile `i`. */
export function tileRect(g: TileGrid, i: number): [number, number, number, number] {
  const tr = Math.floor(i / g.gridCols), tc = i % g.gridCols;
  const r0 = tr * g.tileRows, c0 = tc * g.tileCols;
  return [r0, Math.min(g.rows, r0 + g.tileRows), c0, Math.min(g.cols, c0 + g.tileCols)];
}

/** Tiles drawn on the map at most; a larger grid is chosen by number only. */
export const MAX_MAP_TILES = 16384;
const MAP_WIDTH = 720, MAP_HEIGHT = 480, MIN_CELL = 6;

/** Light to dark blue: the ratio scale of the tile map. */
function ratioColour(t: number): string {
  const a = [222, 235, 247], b = [8, 48, 107];
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * Math.min(1, Math.max(0, t))));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** The extent of the ratio scale: the tiles' ratios, widened to at least [1, 1.5]. */
export function ratioDomain(chunks: readonly TileChunk[]): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const [stored, raw] of chunks) {
    if (stored <= 0) continue;
    const r = raw / stored;
    lo = Math.min(lo, r);
    hi = Math.max(hi, r);
  }
  if (lo > hi) return [1, 1.5];
  return [Math.min(lo, 1), Math.max(hi, 1.5)];
}

function TileMap(p: TensorProps & { href: (i: number) => string }) {
  const g = p.grid;
  if (p.chunks.length === 0) return <p class="muted">This tensor has no elements, so no tiles.</p>;
  if (p.chunks.length > MAX_MAP_TILES) {
    return (
      <p class="muted">
        {formatCount(p.chunks.length)} tiles: too many to draw; pick one by number.
      </p>
    );
  }
  const scale = Math.min(MAP_WIDTH / g.cols, MAP_HEIGHT / g.rows);
  const colX: number[] = [0], rowY: number[] = [0];
  for (let c = 0; c < g.gridCols; c++) {
    const w = Math.max(MIN_CELL, (Math.min(g.cols, (c + 1) * g.tileCols) - c * g.tileCols) * scale);
    colX.push(colX[c] + w);
  }
  for (let r = 0; r < g.gridRows; r++) {
    const h = Math.max(MIN_CELL, (Math.min(g.rows, (r + 1) * g.tileRows) - r * g.tileRows) * scale);
    rowY.push(rowY[r] + h);
  }
  const [lo, hi] = ratioDomain(p.chunks);
  const width = colX[g.gridCols], height = rowY[g.gridRows];
  return (
    <svg
      class="tilemap"
      id="tilemap"
      viewBox={`0 0 ${width} ${height}`}
      width={Math.ceil(width)}
      height={Math.ceil(height)}
      role="group"
      aria-label={`Tile map: ${
        formatCount(p.chunks.length)
      } tiles, ${g.gridRows} down and ${g.gridCols} across, coloured by ratio from ${
        lo.toFixed(2)
      } (light) to ${hi.toFixed(2)} (dark)`}
      tabindex={0}
      data-grid-cols={g.gridCols}
    >
      {p.chunks.map(([stored, raw], i) => {
        const tr = Math.floor(i / g.gridCols), tc = i % g.gridCols;
        const ratio = stored > 0 ? raw / stored : hi;
        const [r0, r1, c0, c1] = tileRect(g, i);
        const label = `tile ${i}: rows ${r0}–${r1 - 1}, columns ${c0}–${c1 - 1}, ratio ${
          ratio.toFixed(2)
        }`;
        return (
          <a href={p.href(i)} tabindex={-1} aria-label={label} data-tile={i}>
            <rect
              x={colX[tc]}
              y={rowY[tr]}
              width={colX[tc + 1] - colX[tc]}
              height={rowY[tr + 1] - rowY[tr]}
              fill={ratioColour((ratio - lo) / (hi - lo || 1))}
              class={i === p.tile ? "sel" : undefined}
              stroke="var(--bg)"
              stroke-width="0.5"
            >
              <title>{label}</title>
            </rect>
          </a>
        );
      })}
    </svg>
  );
}

/** The tensor view. */
export function TensorView(p: TensorProps) {
  const g = p.grid;
  const t = p.tensor;
  const q = (i: number) => {
    const s = new URLSearchParams();
    if (p.revision) s.set("revision", p.revision);
    s.set("file", p.file);
    s.set("tile", String(i));
    return `?${s}`;
  };
  const chunk = p.chunks[p.tile];
  const [r0, r1, c0, c1] = chunk ? tileRect(g, p.tile) : [0, 0, 0, 0];
  const [lo, hi] = ratioDomain(p.chunks);
  return (
    <Layout
      title={`${t.name} · ${p.org}/${p.name} · Tessera`}
      assets={p.assets}
      data={p.data}
      current="models"
    >
      <p class="crumbs">
        <a href="/">Models</a> / <a href={modelHref(p.org, p.name, p.revision)}>{p.org}/{p.name}</a>
        {" "}
        / <a href={`${modelHref(p.org, p.name, p.revision)}#tensors`}>tensors</a>
      </p>
      <h1>{t.name}</h1>
      <Facts
        label="Tensor figures"
        items={[
          ["Dtype", t.dtype],
          ["Shape", formatShape(t.shape)],
          ["Layer", t.layer],
          ["File", p.file],
          ["Raw", formatBytes(t.raw)],
          ["Stored", formatBytes(t.stored)],
          ["Ratio", formatRatio(t.raw, t.stored)],
          [
            "Tiles",
            `${
              formatCount(p.chunks.length)
            } (${g.gridRows} × ${g.gridCols} of ${g.tileRows} × ${g.tileCols})`,
          ],
        ]}
      />
      <p class="muted">
        SHA-256 <code>{t.sha256}</code>
      </p>
      <div class="grid2">
        <section aria-labelledby="map">
          <h2 id="map">Tiles by compression ratio</h2>
          <p class="muted">
            The {g.rows} × {g.cols} matrix view in tiles of up to {g.tileRows} ×{" "}
            {g.tileCols}; each is one chunk, decoded on its own. Darker tiles compress better.
          </p>
          <TileMap {...p} href={q} />
          <div class="legend" aria-hidden="true">
            <span>ratio {lo.toFixed(2)}</span>
            <span
              class="scale"
              style="background:linear-gradient(to right, rgb(222,235,247), rgb(8,48,107))"
            >
            </span>
            <span>{hi.toFixed(2)}</span>
          </div>
          <form class="inline" method="get" action="">
            {p.revision && <input type="hidden" name="revision" value={p.revision} />}
            <input type="hidden" name="file" value={p.file} />
            <label for="tile-number">Tile</label>
            <input
              type="number"
              id="tile-number"
              name="tile"
              min="0"
              max={Math.max(0, p.chunks.length - 1)}
              value={p.tile}
              style="width:7rem"
            />
            <button type="submit">Show tile</button>
          </form>
        </section>
        <section aria-labelledby="tile-heading">
          <h2 id="tile-heading">
            Tile <span id="tile-index">{p.tile}</span>
          </h2>
          {chunk
            ? (
              <>
                <dl class="kv" id="tile-facts">
                  <dt>Rows</dt>
                  <dd id="tile-rows">{r0}–{r1 - 1}</dd>
                  <dt>Columns</dt>
                  <dd id="tile-cols">{c0}–{c1 - 1}</dd>
                  <dt>Raw</dt>
                  <dd id="tile-raw">{formatBytes(chunk[1])}</dd>
                  <dt>Stored</dt>
                  <dd id="tile-stored">
                    {formatBytes(chunk[0])} ({formatRatio(chunk[1], chunk[0])})
                  </dd>
                  <dt>Checksum</dt>
                  <dd>
                    <span id="tile-badge" class="badge wait" role="status">
                      XXH32 {chunk[2].toString(16).padStart(8, "0")}: not yet checked
                    </span>
                  </dd>
                </dl>
                <p>
                  <a id="tile-link" href={p.tileUrl}>This tile's bytes from the tile API</a>
                </p>
              </>
            )
            : <p class="muted">No tile.</p>}
        </section>
      </div>
      <section aria-labelledby="heat">
        <h2 id="heat">Values</h2>
        <noscript>
          <p>The heatmap and histogram are drawn by the page script from the tile's bytes.</p>
        </noscript>
        <figure>
          <figcaption id="heat-caption">
            Heatmap of the tile's values (blue negative, red positive, scaled to the largest
            magnitude). Focus it and use the arrow keys to read values.
          </figcaption>
          <div class="legend" aria-hidden="true">
            <span id="heat-min">-</span>
            <span class="scale"></span>
            <span id="heat-max">-</span>
          </div>
          <div class="heat-wrap">
            <canvas
              class="heatmap"
              id="heatmap"
              width="1"
              height="1"
              tabindex={0}
              role="img"
              aria-labelledby="heat-caption"
              aria-describedby="heat-readout"
            >
            </canvas>
          </div>
          <p class="readout" id="heat-readout" aria-live="polite"></p>
        </figure>
        <figure>
          <figcaption id="value-hist-caption">
            Histogram of the tile's values (64 equal bins between the smallest and largest)
          </figcaption>
          <div class="chart" id="value-hist" role="img" aria-labelledby="value-hist-caption"></div>
          <p class="muted" id="value-hist-note"></p>
        </figure>
      </section>
    </Layout>
  );
}
