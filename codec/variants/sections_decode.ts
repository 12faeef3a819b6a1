/**
 * Decodes a variant chunk (docs/FORMAT.md, "Variants: chunks"): a table of sections, each an
 * ordinary chunk of its own element layout, decoded back to back into one payload that is checked
 * against the record's XXH32. Browser-safe; imports no encoder.
 * @module
 */
import { type ChunkEntry, decodeChunkBytes, type DecodeOptions } from "../chunk_decode.ts";
import type { PlaneLayout } from "../dtype.ts";
import { CodecError } from "../errors.ts";
import { xxh32 } from "../xxh32.ts";

/** Bytes of one entry of the section table: u32 stored length, raw length, XXH32 of raw bytes. */
export const SECTION_ENTRY_BYTES = 12;
/** XXH32 of no bytes. */
const EMPTY_XXH32 = 0x02cc5d05;

/** Most sections a chunk may hold. */
export const MAX_SECTIONS = 8;

/** Where each section of a decoded payload lies. */
export interface Sections {
  /** The payload: every section's decoded bytes, back to back. */
  readonly payload: Uint8Array;
  /** Each section's bytes, as views into `payload`. */
  readonly parts: Uint8Array[];
}

/**
 * Decodes one section that is an ordinary chunk, checking its XXH32; returns false to leave it to
 * the TypeScript codec. A native kernel is injected here, as for lossless chunks.
 */
export type SectionDecoder = (
  stored: Uint8Array,
  layout: PlaneLayout,
  rawXxh32: number,
  out: Uint8Array,
) => boolean;

/**
 * Decodes `stored` into `out` (`entry.rawLength` bytes), with sections of `layouts` whose raw
 * lengths must equal `rawLengths` where those are not null, and checks `rawXxh32` (and
 * `storedXxh32` with `options.verifyStored`). Throws {@link CodecError}.
 */
export function decodeSections(
  stored: Uint8Array,
  entry: ChunkEntry,
  layouts: readonly PlaneLayout[],
  rawLengths: readonly (number | null)[],
  out: Uint8Array,
  options: DecodeOptions & { readonly decodeSection?: SectionDecoder } = {},
): Sections {
  if (stored.length !== entry.storedLength) {
    throw new CodecError(
      "truncated",
      `chunk has ${stored.length} stored bytes, index says ${entry.storedLength}`,
    );
  }
  if (options.verifyStored && xxh32(stored) !== entry.storedXxh32) {
    throw new CodecError("checksum_mismatch", "stored bytes do not match their XXH32");
  }
  if (out.length !== entry.rawLength) {
    throw new CodecError("corrupt", `output of ${out.length} bytes for ${entry.rawLength}`);
  }
  const s = layouts.length;
  if (stored.length < 1) throw new CodecError("truncated", "chunk is empty");
  if (stored[0] !== s) {
    throw new CodecError("corrupt", `chunk has ${stored[0]} sections, its layout needs ${s}`);
  }
  const tableEnd = 1 + s * SECTION_ENTRY_BYTES;
  if (stored.length < tableEnd) throw new CodecError("truncated", "section table is cut off");
  const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  let pos = tableEnd, rawPos = 0;
  const parts: Uint8Array[] = [];
  for (let k = 0; k < s; k++) {
    const storedLength = view.getUint32(1 + k * SECTION_ENTRY_BYTES, true);
    const rawLength = view.getUint32(5 + k * SECTION_ENTRY_BYTES, true);
    const sectionXxh32 = view.getUint32(9 + k * SECTION_ENTRY_BYTES, true);
    const want = rawLengths[k];
    if (want !== null && want !== undefined && rawLength !== want) {
      throw new CodecError("corrupt", `section ${k} decodes to ${rawLength} bytes, not ${want}`);
    }
    if (rawLength % layouts[k].width !== 0) {
      throw new CodecError(
        "corrupt",
        `section ${k} of ${rawLength} bytes is not whole ${layouts[k].width}-byte elements`,
      );
    }
    if ((rawLength === 0) !== (storedLength === 0)) {
      throw new CodecError("corrupt", `section ${k}: an empty section stores nothing`);
    }
    if (pos + storedLength > stored.length || rawPos + rawLength > out.length) {
      throw new CodecError("truncated", `section ${k} runs past the chunk or its payload`);
    }
    const target = out.subarray(rawPos, rawPos + rawLength);
    if (rawLength > 0) {
      const bytes = stored.subarray(pos, pos + storedLength);
      if (!options.decodeSection?.(bytes, layouts[k], sectionXxh32, target)) {
        decodeChunkBytes(bytes, layouts[k], target, options);
        if (xxh32(target) !== sectionXxh32) {
          throw new CodecError("checksum_mismatch", `section ${k} does not match its XXH32`);
        }
      }
    } else if (sectionXxh32 !== EMPTY_XXH32) {
      throw new CodecError("checksum_mismatch", `empty section ${k} does not match its XXH32`);
    }
    parts.push(target);
    pos += storedLength;
    rawPos += rawLength;
  }
  if (pos !== stored.length) {
    throw new CodecError("corrupt", `sections end at ${pos}, chunk has ${stored.length} bytes`);
  }
  if (rawPos !== out.length) {
    throw new CodecError("corrupt", `sections decode to ${rawPos} bytes, index says ${out.length}`);
  }
  const sum = xxh32(out);
  if (sum !== entry.rawXxh32) {
    throw new CodecError(
      "checksum_mismatch",
      `decoded payload hashes to ${sum.toString(16)}, index says ${entry.rawXxh32.toString(16)}`,
    );
  }
  return { payload: out, parts };
}
