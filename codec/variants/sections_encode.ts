/**
 * Encodes a variant chunk (docs/FORMAT.md, "Variants: chunks"): each section coded as an ordinary
 * chunk with the plane coders, behind a table of stored and raw lengths. Browser-safe.
 * @module
 */
import { encodeChunk, type EncodeOptions } from "../chunk_encode.ts";
import type { PlaneLayout } from "../dtype.ts";
import { xxh32 } from "../xxh32.ts";
import { SECTION_ENTRY_BYTES } from "./sections_decode.ts";

/** One section to encode: its decoded bytes and element layout. */
export interface SectionInput {
  readonly raw: Uint8Array;
  readonly layout: PlaneLayout;
}

/** A chunk ready to write: its stored bytes and the checksums its record carries. */
export interface EncodedVariantChunk {
  readonly stored: Uint8Array;
  readonly rawLength: number;
  readonly storedXxh32: number;
  readonly rawXxh32: number;
}

/** Encodes `sections` as one variant chunk. */
export function encodeSections(
  sections: readonly SectionInput[],
  options: EncodeOptions,
): EncodedVariantChunk {
  const coded = sections.map((s) =>
    s.raw.length === 0 ? new Uint8Array(0) : encodeChunk(s.raw, s.layout, options)
  );
  const tableEnd = 1 + sections.length * SECTION_ENTRY_BYTES;
  const stored = new Uint8Array(tableEnd + coded.reduce((n, c) => n + c.length, 0));
  const view = new DataView(stored.buffer);
  stored[0] = sections.length;
  let pos = tableEnd, rawLength = 0;
  for (let k = 0; k < sections.length; k++) {
    view.setUint32(1 + k * SECTION_ENTRY_BYTES, coded[k].length, true);
    view.setUint32(5 + k * SECTION_ENTRY_BYTES, sections[k].raw.length, true);
    view.setUint32(9 + k * SECTION_ENTRY_BYTES, xxh32(sections[k].raw), true);
    stored.set(coded[k], pos);
    pos += coded[k].length;
    rawLength += sections[k].raw.length;
  }
  const payload = new Uint8Array(rawLength);
  let at = 0;
  for (const s of sections) payload.set(s.raw, at), at += s.raw.length;
  return { stored, rawLength, storedXxh32: xxh32(stored), rawXxh32: xxh32(payload) };
}
