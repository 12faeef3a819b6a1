/**
 * Tile choice for variants (informative in docs/FORMAT.md): about `chunkBytes` of payload per
 * chunk, and scale groups that never straddle two tiles. Browser-safe.
 * @module
 */
import { chooseTiles } from "../tiles.ts";

/**
 * Tiles over a `rows × cols` view for a payload of `bytesPerElement`, with columns cut only at
 * multiples of `group` (0: scales per whole row, so tiles are bands of whole rows).
 *
 * @example
 * ```ts
 * variantTiles(4096, 4096, 1, 0, 262144); // [64, 4096]: bands of whole rows
 * variantTiles(4096, 4096, 1, 128, 262144); // [512, 512]
 * ```
 */
export function variantTiles(
  rows: number,
  cols: number,
  bytesPerElement: number,
  group: number,
  chunkBytes: number,
): [number, number] {
  const elements = Math.max(1, Math.floor(chunkBytes / bytesPerElement));
  if (group === 0 || group >= cols) {
    return [Math.max(1, Math.floor(elements / Math.max(1, cols))), Math.max(1, cols)];
  }
  const g = chooseTiles([rows, cols], 1, elements);
  const tileCols = g.tileCols >= cols
    ? cols
    : Math.max(group, Math.floor(g.tileCols / group) * group);
  return [Math.max(1, Math.floor(elements / tileCols)), tileCols];
}
