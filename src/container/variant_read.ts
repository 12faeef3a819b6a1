/**
 * Reads variants out of an open container: a rectangle dequantised to the tensor's dtype, or a
 * chunk's payload in the variant's own layout. Phase-1 glue over `Container.reader`, for derive,
 * inspect and the bench; the planner of the one reader takes it over.
 * @module
 */
import { matrixShape, type Rect } from "../../codec/tiles.ts";
import { chunkEntry, decodeVariantChunk } from "../../codec/variants/chunk_decode.ts";
import { chunksForRegion, dequantiseRegion } from "../../codec/variants/dequantise.ts";
import { isLossy, type LossyEncoding } from "../../codec/variants/encoding.ts";
import { chunkFailure, ContainerError } from "./errors.ts";
import { type TensorEntry } from "./index_schema.ts";
import type { Container } from "./open.ts";
import { readRegion } from "./read.ts";
import { dtypeWidth } from "../../codec/dtype.ts";
import type { SectionDecoder } from "../../codec/variants/sections_decode.ts";
import type { Backends } from "./backends.ts";

/**
 * Sections are ordinary chunks with their own XXH32: the backends' batch kernel decodes them
 * first, and returns false for what it leaves to the TypeScript codec.
 */
export function kernelSection(backends: Backends): SectionDecoder | undefined {
  const kernel = backends.kernel;
  if (!kernel) return undefined;
  return (stored, layout, rawXxh32, out) =>
    out.length > 0 &&
    kernel(stored, 0, [{
        offset: 0,
        storedLength: stored.length,
        rawLength: out.length,
        rawXxh32,
        layout,
        at: 0,
      }], out)[0] === 0;
}

/** The lossy encoding of `t` named `name`, or null if the variant keeps `t` exact. */
export function variantOf(c: Container, t: TensorEntry, name: string): LossyEncoding | null {
  if (!(c.index.variants ?? []).some((v) => v.name === name)) {
    throw new ContainerError("tensor_not_found", `the container holds no variant "${name}"`);
  }
  for (const e of t.encodings) {
    if ((e as { name?: string }).name === name && isLossy(e)) return e;
  }
  return null;
}

/**
 * `rect` (of the tensor's matrix, rows × last dimension; the whole tensor by default) of variant
 * `name` of `t`, dequantised to `t`'s dtype, from only the chunks it needs.
 */
export async function readVariantRegion(
  c: Container,
  t: TensorEntry,
  name: string,
  rect?: Rect,
): Promise<Uint8Array> {
  const e = variantOf(c, t, name);
  const [rows, cols] = matrixShape(t.shape);
  const r = rect ?? { r0: 0, r1: rows, c0: 0, c1: cols };
  if (!e) return readRegion(c, t, r);
  if (!(r.r0 >= 0 && r.c0 >= 0 && r.r0 <= r.r1 && r.c0 <= r.c1 && r.r1 <= rows && r.c1 <= cols)) {
    throw new ContainerError("bad_slice", `region is not within ${rows}x${cols}`);
  }
  const sections = new Map<number, Uint8Array[]>();
  for (const i of chunksForRegion(e, t.shape, r)) {
    sections.set(i, await readVariantChunk(c, t, e, i));
  }
  const out = new Uint8Array((r.r1 - r.r0) * (r.c1 - r.c0) * dtypeWidth(t.dtype));
  dequantiseRegion(e, t.dtype, t.shape, r, (i) => sections.get(i)!, out);
  return out;
}

/** The checked sections of chunk `i` of variant encoding `e` of `t`. */
export async function readVariantChunk(
  c: Container,
  t: TensorEntry,
  e: LossyEncoding,
  i: number,
): Promise<Uint8Array[]> {
  const [offset, stored] = e.chunks[i];
  try {
    return decodeVariantChunk(e, t.dtype, i, chunkEntry(e.chunks, i), await c.source.readAt(offset, stored), {
      decodeSection: kernelSection(c.backends),
      zstdDecompress: c.backends.zstd,
    });
  } catch (err) {
    throw chunkFailure(t.name, i, offset, err);
  }
}
