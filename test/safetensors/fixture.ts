/**
 * Builders for safetensors files in memory, so tests need no binary fixtures.
 * `buildSafetensors` makes valid files; `rawSafetensors` wraps arbitrary header bytes
 * (for malformed-input tests).
 * @module
 */

import { type Dtype, dtypeWidth } from "../../codec/dtype.ts";

/** A tensor to write; `data` defaults to a deterministic byte pattern of the right length. */
export interface FixtureTensor {
  name: string;
  dtype: Dtype;
  shape: number[];
  data?: Uint8Array;
}

/** Layout knobs for `buildSafetensors`. */
export interface FixtureOptions {
  /** Pad the header with spaces to a multiple of this many bytes (default 8; 1 = no padding). */
  align?: number;
  /** Extra spaces appended after alignment padding (default 0). */
  extraSpaces?: number;
}

/**
 * Writes a valid safetensors file: tensors laid out back to back in the given order, JSON keys
 * in the same order (`__metadata__` first when given), header space-padded to `align` bytes.
 */
export function buildSafetensors(
  tensors: FixtureTensor[],
  metadata?: Record<string, string>,
  opts: FixtureOptions = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1) * dtypeWidth(t.dtype);
    const data = t.data ?? patternBytes(size, t.name);
    if (data.length !== size) {
      throw new Error(
        `fixture tensor "${t.name}": expected ${size} data bytes, got ${data.length}`,
      );
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    chunks.push(data);
    offset += size;
  }
  const json = JSON.stringify(header);
  const align = opts.align ?? 8;
  const rawLength = new TextEncoder().encode(json).length;
  // Alignment is of the data section's file offset, i.e. of 8 + N; 8 is itself aligned for 8.
  const pad = (align - ((8 + rawLength) % align)) % align + (opts.extraSpaces ?? 0);
  const data = concat(chunks);
  return rawSafetensors(json + " ".repeat(pad), data);
}

/** Writes the 8-byte length, `header` verbatim, then `data` (bytes, or that many zeros). */
export function rawSafetensors(
  header: string | Uint8Array,
  data: Uint8Array | number = 0,
): Uint8Array {
  const h = typeof header === "string" ? new TextEncoder().encode(header) : header;
  const d = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

/** Deterministic, name-seeded bytes so different tensors get different contents. */
export function patternBytes(length: number, seed = ""): Uint8Array {
  let s = 0x9e3779b9;
  for (let i = 0; i < seed.length; i++) s = Math.imul(s ^ seed.charCodeAt(i), 0x01000193);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    s = Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + i;
    out[i] = s >>> 24;
  }
  return out;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
