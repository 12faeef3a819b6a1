/**
 * Rebuilds a sparse tile (docs/FORMAT.md, "Variants: sparse"): zeros, then each kept element's
 * original bytes at positions given by gaps. Browser-safe.
 * @module
 */
import { CodecError } from "../errors.ts";

/**
 * Writes the tile's bytes (`n` elements of `width` bytes, row-major) into `out` from a COO
 * payload: `gaps` (u32 little-endian) and `values` (the kept elements' bytes).
 */
export function scatterSparse(
  gaps: Uint8Array,
  values: Uint8Array,
  width: number,
  n: number,
  out: Uint8Array,
): void {
  const count = gaps.length / 4;
  if (values.length !== count * width) {
    throw new CodecError(
      "corrupt",
      `sparse tile has ${count} positions and ${values.length / width} values`,
    );
  }
  out.fill(0, 0, n * width);
  const view = new DataView(gaps.buffer, gaps.byteOffset, gaps.byteLength);
  let p = -1;
  for (let i = 0; i < count; i++) {
    p += view.getUint32(4 * i, true) + 1;
    if (p >= n) throw new CodecError("corrupt", `sparse position ${p} is outside ${n} elements`);
    out.set(values.subarray(i * width, (i + 1) * width), p * width);
  }
}
