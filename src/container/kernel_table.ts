/**
 * The batch kernel's piece table (`tsr_decode_batch` in native/tsr_kernel.c): one row of
 * {@link D_WORDS} u32 words per piece. Both bindings of the kernel, the native library and its
 * WebAssembly build, fill and read it through this module, so the layout is written once beside
 * the C. Browser-safe.
 * @module
 */
import type { KernelPiece } from "./backends.ts";

/** The kernel's interface version, as `tsr_abi()` returns it in tsr_kernel.c. */
export const KERNEL_ABI = 3;
/** u32 words per piece. */
export const D_WORDS = 10;
/** The word the kernel sets to non-zero for a piece it did not finish. */
export const D_STATUS = 6;
/** The first of the three scatter words (row bytes, stride, target). */
const D_ROW_BYTES = 7;

/**
 * Fills `desc` (at least `pieces.length * D_WORDS` words, zeroed) with one row per piece, chunk
 * offsets relative to `storedBase`; returns the largest raw length, the scratch the kernel needs.
 *
 * @example
 * ```ts ignore
 * const desc = new Uint32Array(pieces.length * D_WORDS);
 * const scratchBytes = fillPieceTable(desc, pieces, storedBase);
 * ```
 */
export function fillPieceTable(
  desc: Uint32Array,
  pieces: readonly KernelPiece[],
  storedBase: number,
): number {
  let maxRaw = 0;
  for (let k = 0; k < pieces.length; k++) {
    const p = pieces[k], d = k * D_WORDS;
    desc[d] = p.offset - storedBase;
    desc[d + 1] = p.storedLength;
    desc[d + 2] = p.at;
    desc[d + 3] = p.rawLength;
    desc[d + 4] = p.layout.width | (p.layout.signMoved ? 256 : 0) |
      (p.layout.packing === "int4" ? 512 : 0);
    desc[d + 5] = p.rawXxh32;
    if (p.scatter) {
      desc[d + D_ROW_BYTES] = p.scatter.rowBytes;
      desc[d + D_ROW_BYTES + 1] = p.scatter.stride;
      desc[d + D_ROW_BYTES + 2] = p.scatter.target;
    }
    if (p.rawLength > maxRaw) maxRaw = p.rawLength;
  }
  return maxRaw;
}
