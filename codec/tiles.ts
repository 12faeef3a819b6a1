/**
 * Tile geometry: how a tensor, seen as a row-major matrix, is cut into chunks, and how tiles are
 * gathered from and scattered to row-major bytes. Browser-safe.
 * @module
 */

/** A tensor seen as `[rows, cols]`, cut into a grid of `tileRows × tileCols` tiles. */
export interface TileGeometry {
  /** Product of all dimensions but the last (1 for scalars and vectors). */
  readonly rows: number;
  /** The last dimension (1 for scalars). */
  readonly cols: number;
  /** Rows per tile; the last tile row may be shorter. */
  readonly tileRows: number;
  /** Columns per tile; the last tile column may be narrower. */
  readonly tileCols: number;
  /** Bytes per element. */
  readonly width: number;
}

/** A half-open rectangle of a matrix: rows `[r0, r1)`, columns `[c0, c1)`. */
export interface Rect {
  readonly r0: number;
  readonly r1: number;
  readonly c0: number;
  readonly c1: number;
}

/** `[product of leading dims, last dim]`: the matrix view every tensor is tiled as. */
export function matrixShape(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  let rows = 1;
  for (let i = 0; i < shape.length - 1; i++) rows *= shape[i];
  return [rows, shape[shape.length - 1]];
}

/**
 * Chooses tiles of about `chunkBytes`: whole rows when a row is narrow, else square-ish tiles whose
 * width is a power of two, so that shards of power-of-two-sized matrices align with tile edges.
 */
export function chooseTiles(
  shape: readonly number[],
  width: number,
  chunkBytes: number,
): TileGeometry {
  const [rows, cols] = matrixShape(shape);
  const elements = Math.max(1, Math.floor(chunkBytes / width));
  const side = 2 ** Math.round(Math.log2(Math.sqrt(elements)));
  if (cols <= side) {
    // An empty last dimension still gets a valid (1-wide) tile; such tensors have no chunks.
    const tileCols = Math.max(1, cols);
    return { rows, cols, width, tileCols, tileRows: Math.max(1, Math.floor(elements / tileCols)) };
  }
  const tallRows = Math.floor(elements / side);
  if (rows >= tallRows) return { rows, cols, width, tileRows: tallRows, tileCols: side };
  // Few rows: widen the tiles so that each still holds about `elements`.
  const tileCols = Math.min(cols, Math.max(side, Math.floor(elements / rows / side) * side));
  return { rows, cols, width, tileRows: Math.max(1, rows), tileCols };
}

/** Tile rows and tile columns in the grid; zero for an empty tensor. */
export function gridSize(g: TileGeometry): [number, number] {
  if (g.rows === 0 || g.cols === 0) return [0, 0];
  return [Math.ceil(g.rows / g.tileRows), Math.ceil(g.cols / g.tileCols)];
}

/** The rectangle tile `index` covers; tiles are numbered row-major over the grid. */
export function tileRect(g: TileGeometry, index: number): Rect {
  const gridCols = Math.ceil(g.cols / g.tileCols);
  const tr = Math.floor(index / gridCols), tc = index % gridCols;
  const r0 = tr * g.tileRows, c0 = tc * g.tileCols;
  return { r0, r1: Math.min(g.rows, r0 + g.tileRows), c0, c1: Math.min(g.cols, c0 + g.tileCols) };
}

/** Indices of the tiles that intersect `rect`, in row-major order. */
export function tilesCovering(g: TileGeometry, rect: Rect): number[] {
  const out: number[] = [];
  if (rect.r0 >= rect.r1 || rect.c0 >= rect.c1) return out;
  const gridCols = Math.ceil(g.cols / g.tileCols);
  const tr0 = Math.floor(rect.r0 / g.tileRows), tr1 = Math.ceil(rect.r1 / g.tileRows);
  const tc0 = Math.floor(rect.c0 / g.tileCols), tc1 = Math.ceil(rect.c1 / g.tileCols);
  for (let tr = tr0; tr < tr1; tr++) {
    for (let tc = tc0; tc < tc1; tc++) out.push(tr * gridCols + tc);
  }
  return out;
}

/**
 * Copies the part of tile `tile` (its bytes, row-major within `tileRect`) that lies inside `rect`
 * into `dst`, which holds `rect` row-major. With `toTile`, copies the other way.
 */
export function copyTileRegion(
  g: TileGeometry,
  tileIndex: number,
  tile: Uint8Array,
  rect: Rect,
  dst: Uint8Array,
  toTile = false,
): void {
  const t = tileRect(g, tileIndex), w = g.width;
  const r0 = Math.max(t.r0, rect.r0), r1 = Math.min(t.r1, rect.r1);
  const c0 = Math.max(t.c0, rect.c0), c1 = Math.min(t.c1, rect.c1);
  if (r0 >= r1 || c0 >= c1) return;
  const tileStride = (t.c1 - t.c0) * w, rectStride = (rect.c1 - rect.c0) * w;
  const span = (c1 - c0) * w;
  for (let r = r0; r < r1; r++) {
    const a = (r - t.r0) * tileStride + (c0 - t.c0) * w;
    const b = (r - rect.r0) * rectStride + (c0 - rect.c0) * w;
    if (toTile) tile.set(dst.subarray(b, b + span), a);
    else dst.set(tile.subarray(a, a + span), b);
  }
}
