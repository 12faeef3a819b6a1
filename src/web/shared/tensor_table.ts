/**
 * The model page's tensor table as data: its rows, the query that filters, sorts and pages them
 * (carried in the URL, so the table works without JavaScript), and the cells of a row. The server
 * renders the first view from this module and the page script re-renders from it, so both show
 * the same rows in the same order with the same text. Browser-safe.
 * @module
 */
import { formatBytes, formatRatio, formatShape } from "./format.ts";

/** One tensor of a revision, as the table shows it. */
export interface TensorRow {
  /** Name in its file's header. */
  readonly name: string;
  /** The repo file that holds it. */
  readonly file: string;
  /** Element type. */
  readonly dtype: string;
  /** Dimensions. */
  readonly shape: readonly number[];
  /** Layer key. */
  readonly layer: string;
  /** Position of its layer in load order. */
  readonly layerIndex: number;
  /** Bytes in the original file. */
  readonly raw: number;
  /** Bytes of its lossless chunks in the container (0 when it has none). */
  readonly stored: number;
  /** Codec of each byte plane, most significant first (`rans+raw`). */
  readonly codecs: string;
  /** SHA-256 of its bytes (in rows unpacked from {@link PackedRows}, its first digits). */
  readonly sha256: string;
}

/** Columns the table sorts by. */
export const SORT_KEYS = [
  "load",
  "name",
  "dtype",
  "elements",
  "layer",
  "raw",
  "stored",
  "ratio",
  "codecs",
] as const;
/** A sort column; `load` is load order (layer, then file order). */
export type SortKey = typeof SORT_KEYS[number];

/** Hex digits of a tensor's SHA-256 the table shows (the tensor view shows all 64). */
export const SHA_DIGITS = 12;

/** Rows per page. */
export const PAGE_ROWS = 50;

/** What the table shows: filter text, sort column and direction, page (from 1). */
export interface TableQuery {
  /** Terms that must each occur in the name, dtype, layer, file or codecs (case-insensitive). */
  readonly q: string;
  /** Sort column. */
  readonly sort: SortKey;
  /** Direction. */
  readonly dir: "asc" | "desc";
  /** Page, from 1. */
  readonly page: number;
}

/** The table's query when the URL names none. */
export const DEFAULT_QUERY: TableQuery = { q: "", sort: "load", dir: "asc", page: 1 };

/**
 * The table query of a URL's search parameters (`tq`, `sort`, `dir`, `page`); anything malformed
 * falls back to the default.
 *
 * @example
 * ```ts
 * parseTableQuery(new URLSearchParams("sort=raw&dir=desc")).sort; // "raw"
 * ```
 */
export function parseTableQuery(params: URLSearchParams): TableQuery {
  const sort = params.get("sort") as SortKey | null;
  const page = Number(params.get("page"));
  return {
    q: (params.get("tq") ?? "").slice(0, 200),
    sort: sort && (SORT_KEYS as readonly string[]).includes(sort) ? sort : DEFAULT_QUERY.sort,
    dir: params.get("dir") === "desc" ? "desc" : "asc",
    page: Number.isSafeInteger(page) && page >= 1 ? page : 1,
  };
}

/** Writes `query` into `params` (leaving other parameters), omitting defaults. */
export function writeTableQuery(params: URLSearchParams, query: TableQuery): URLSearchParams {
  const set = (
    k: string,
    v: string,
    dflt: string,
  ) => (v === dflt ? params.delete(k) : params.set(k, v));
  set("tq", query.q, "");
  set("sort", query.sort, DEFAULT_QUERY.sort);
  set("dir", query.dir, DEFAULT_QUERY.dir);
  set("page", String(query.page), "1");
  return params;
}

const elements = (r: TensorRow) => r.shape.reduce((a, b) => a * b, 1);
const ratioOf = (r: TensorRow) => (r.stored > 0 ? r.raw / r.stored : 0);
const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const COMPARE: Record<SortKey, (a: TensorRow, b: TensorRow) => number> = {
  load: () => 0,
  name: (a, b) => text(a.name, b.name),
  dtype: (a, b) => text(a.dtype, b.dtype),
  elements: (a, b) => elements(a) - elements(b),
  layer: (a, b) => a.layerIndex - b.layerIndex,
  raw: (a, b) => a.raw - b.raw,
  stored: (a, b) => a.stored - b.stored,
  ratio: (a, b) => ratioOf(a) - ratioOf(b),
  codecs: (a, b) => text(a.codecs, b.codecs),
};

/** The rows on one page of the table, and where that page is. */
export interface TablePage {
  /** The rows shown. */
  readonly rows: readonly TensorRow[];
  /** Rows matching the filter. */
  readonly matching: number;
  /** Pages of matching rows (at least 1). */
  readonly pages: number;
  /** The page shown, clamped to `pages`. */
  readonly page: number;
  /** Index of the first row shown among the matching rows. */
  readonly first: number;
}

/**
 * Filters `rows` (given in load order) by `query.q`, sorts them stably (ties keep load order) and
 * cuts the page.
 *
 * @example
 * ```ts
 * const page = tablePage(rows, { q: "attn", sort: "stored", dir: "desc", page: 1 });
 * ```
 */
export function tablePage(rows: readonly TensorRow[], query: TableQuery): TablePage {
  const terms = query.q.toLowerCase().split(/\s+/).filter((t) => t.length > 0);
  let picked = terms.length === 0 ? rows.slice() : rows.filter((r) => {
    const hay = `${r.name}\n${r.dtype}\n${r.layer}\n${r.file}\n${r.codecs}`.toLowerCase();
    return terms.every((t) => hay.includes(t));
  });
  if (query.sort !== "load" || query.dir === "desc") {
    const cmp = COMPARE[query.sort];
    const sign = query.dir === "desc" ? -1 : 1;
    const order = new Map(picked.map((r, i) => [r, i]));
    picked = picked.sort((a, b) => sign * cmp(a, b) || sign * (order.get(a)! - order.get(b)!));
  }
  const pages = Math.max(1, Math.ceil(picked.length / PAGE_ROWS));
  const page = Math.min(query.page, pages);
  const first = (page - 1) * PAGE_ROWS;
  return {
    rows: picked.slice(first, first + PAGE_ROWS),
    matching: picked.length,
    pages,
    page,
    first,
  };
}

/** One cell of a row: its text, and a link or a full value to show on hover when it has one. */
export interface Cell {
  /** What the cell shows. */
  readonly text: string;
  /** Where the cell links to. */
  readonly href?: string;
  /** The full value when `text` abbreviates it. */
  readonly title?: string;
  /** Right-aligned figures. */
  readonly numeric?: boolean;
}

/**
 * The column headers, in cell order, with the sort key each sorts by and a key naming the column
 * (the stylesheet's `col-<key>` gives its width).
 */
export const COLUMNS: readonly {
  readonly label: string;
  readonly key: string;
  readonly sort?: SortKey;
}[] = [
  { label: "Name", key: "name", sort: "name" },
  { label: "Dtype", key: "dtype", sort: "dtype" },
  { label: "Shape", key: "shape", sort: "elements" },
  { label: "Layer", key: "layer", sort: "layer" },
  { label: "Raw", key: "raw", sort: "raw" },
  { label: "Stored", key: "stored", sort: "stored" },
  { label: "Ratio", key: "ratio", sort: "ratio" },
  { label: "Plane codecs", key: "codecs", sort: "codecs" },
  { label: "SHA-256", key: "sha" },
];

/**
 * The cells of `r`, in {@link COLUMNS} order; `tensorHref` gives the link of its tensor view.
 *
 * @example
 * ```ts
 * tensorCells(row, (r) => `/demo/m/tensors/${encodeURIComponent(r.name)}`)[0].text; // the name
 * ```
 */
export function tensorCells(r: TensorRow, tensorHref: (r: TensorRow) => string): Cell[] {
  return [
    {
      text: r.name,
      href: tensorHref(r),
      title: r.file === "model.safetensors" ? undefined : r.file,
    },
    { text: r.dtype },
    { text: formatShape(r.shape) },
    { text: r.layer },
    { text: formatBytes(r.raw), numeric: true },
    { text: r.stored > 0 ? formatBytes(r.stored) : "-", numeric: true },
    { text: formatRatio(r.raw, r.stored), numeric: true },
    { text: r.codecs },
    { text: r.sha256.slice(0, SHA_DIGITS) },
  ];
}

/**
 * The rows packed for the page script: a row is an array, and what repeats is named once. Dtypes,
 * plane codecs and files are indices into lists of the distinct values, and a name that begins
 * with its layer's key and a dot (`model.layers.7.mlp.up.weight` in layer `model.layers.7`) keeps
 * only the rest, marked by its layer index written as `-1 - index`. For the 3,041-tensor bench
 * model this is 183 KB of JSON instead of 274 KB (objects: about twice that), which the page parses
 * on its main thread before the table is wired.
 */
export interface PackedRows {
  /** Layer keys in load order; rows refer to them by index. */
  readonly layers: string[];
  /** Distinct files; rows refer to them by index. */
  readonly files: string[];
  /** Distinct dtypes; rows refer to them by index. */
  readonly dtypes: string[];
  /** Distinct plane codec lists (`rans+raw`); rows refer to them by index. */
  readonly codecs: string[];
  /**
   * One entry per row, in load order: name (without its layer key and the dot when the layer is
   * written negative), file, dtype, shape, layer (`i`, or `-1 - i` for a shortened name), raw,
   * stored, codecs, the first {@link SHA_DIGITS} digits of the SHA-256.
   */
  readonly rows: [string, number, number, number[], number, number, number, number, string][];
}

/** The index of `v` in `list`, appending it when new (`seen` maps values to indices). */
function indexIn(list: string[], seen: Map<string, number>, v: string): number {
  let i = seen.get(v);
  if (i === undefined) {
    seen.set(v, i = list.length);
    list.push(v);
  }
  return i;
}

/** Packs rows (in load order) for the page script. */
export function packRows(rows: readonly TensorRow[], layers: readonly string[]): PackedRows {
  const files: string[] = [], dtypes: string[] = [], codecs: string[] = [];
  const fileIndex = new Map<string, number>();
  const dtypeIndex = new Map<string, number>();
  const codecIndex = new Map<string, number>();
  return {
    layers: [...layers],
    files,
    dtypes,
    codecs,
    rows: rows.map((r) => {
      const prefix = `${layers[r.layerIndex]}.`;
      const short = layers[r.layerIndex] !== undefined && r.name.startsWith(prefix) &&
        r.name.length > prefix.length;
      // The table shows only the first digits of the SHA-256: a third of the JSON otherwise.
      return [
        short ? r.name.slice(prefix.length) : r.name,
        indexIn(files, fileIndex, r.file),
        indexIn(dtypes, dtypeIndex, r.dtype),
        [...r.shape],
        short ? -1 - r.layerIndex : r.layerIndex,
        r.raw,
        r.stored,
        indexIn(codecs, codecIndex, r.codecs),
        r.sha256.slice(0, SHA_DIGITS),
      ];
    }),
  };
}

/** The rows {@link packRows} packed. */
export function unpackRows(p: PackedRows): TensorRow[] {
  return p.rows.map(([name, f, dtype, shape, layer, raw, stored, codecs, sha256]) => {
    const layerIndex = layer < 0 ? -1 - layer : layer;
    const key = p.layers[layerIndex];
    return {
      name: layer < 0 ? `${key}.${name}` : name,
      file: p.files[f],
      dtype: p.dtypes[dtype],
      shape,
      layer: key,
      layerIndex,
      raw,
      stored,
      codecs: p.codecs[codecs],
      sha256,
    };
  });
}
