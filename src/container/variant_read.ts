/**
 * Reading variants through the one planner and assembler: the variant a container holds by name,
 * a rectangle of a tensor under it (dequantised to the tensor's dtype), and a variant's whole file
 * as a body of pieces. A thin layer: the planner's variant pieces do the work.
 * @module
 */
import type { Rect } from "../../codec/tiles.ts";
import type { LossyEncoding } from "../../codec/variants/encoding.ts";
import { ContainerError } from "./errors.ts";
import type { TensorEntry } from "./index_schema.ts";
import type { Container } from "./open.ts";
import type { Piece } from "./plan.ts";
import { fullRect, originalPieces, type ReadOptions, readRegion } from "./read.ts";
import { lossyEncodingOf, type VariantListEntry } from "./variant_index.ts";

/** The entry of variant `name` in `c`'s variants list, or a `variant_not_found` error. */
export function variantEntry(c: Container, name: string): VariantListEntry {
  const v = (c.index.variants ?? []).find((x) => x.name === name);
  if (!v) {
    const held = (c.index.variants ?? []).map((x) => x.name);
    throw new ContainerError(
      "variant_not_found",
      `the container holds no variant "${name}"` +
        (held.length > 0 ? `; it holds ${held.join(", ")}` : "; it holds none"),
    );
  }
  return v;
}

/**
 * The lossy encoding of `t` in variant `name` of `c`, or null if the variant keeps `t` exact; a
 * `variant_not_found` error if `c` holds no such variant.
 */
export function variantOf(c: Container, t: TensorEntry, name: string): LossyEncoding | null {
  variantEntry(c, name);
  return lossyEncodingOf(t, name);
}

/**
 * `rect` (of the tensor's matrix, rows × last dimension; the whole tensor by default) of variant
 * `name` of `t`, dequantised to `t`'s dtype, from only the chunks it needs; a whole tensor is
 * checked against its SHA-256.
 *
 * @example
 * ```ts ignore
 * const tile = await readVariantRegion(c, t, "int8", { r0: 0, r1: 64, c0: 0, c1: 64 });
 * ```
 */
export function readVariantRegion(
  c: Container,
  t: TensorEntry,
  name: string,
  rect: Rect = fullRect(t),
  options: Omit<ReadOptions, "variant"> = {},
): Promise<Uint8Array> {
  return readRegion(c, t, rect, { ...options, variant: variantOf(c, t, name) });
}

/**
 * The file of variant `name` as a body: the original's length prefix and `header`, then every
 * tensor as the variant serves it. Its size is the original's; its SHA-256 is the variant's.
 */
export function variantPieces(c: Container, header: Uint8Array, name: string): Piece[] {
  variantEntry(c, name);
  return originalPieces(c, header, (t) => lossyEncodingOf(t, name));
}
