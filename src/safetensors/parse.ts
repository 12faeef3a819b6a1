/**
 * Validating safetensors header reader. Checks every structural rule of the
 * format (mirroring huggingface/safetensors) so later stages can trust offsets blindly.
 * @module
 */

import { type Dtype, dtypeWidth, isDtype } from "../../codec/dtype.ts";
import type { RandomAccessReader } from "../io/random_access.ts";
import { SafetensorsError } from "./errors.ts";
import { parseStrictJson } from "./strict_json.ts";
import { MAX_HEADER_LENGTH } from "./limits.ts";

/** One tensor's entry; `begin`/`end` are byte offsets relative to the data section. */
export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/** A validated safetensors header and where the data section lies in the file. */
export interface SafetensorsHeader {
  /** N, the header's byte length as declared in the 8-byte prefix. */
  headerLength: number;
  /** The N header bytes verbatim, including trailing space padding. */
  headerBytes: Uint8Array;
  /** File offset of the data section: 8 + N. */
  dataStart: number;
  /** Total file size in bytes. */
  fileSize: number;
  /** The `__metadata__` map, or null when the header has none. */
  metadata: Record<string, string> | null;
  /** Tensors sorted by begin, then end; remaining ties (zero-size tensors) broken by name. */
  tensors: TensorInfo[];
}

export { MAX_HEADER_LENGTH };

const METADATA_KEY = "__metadata__";
const INFO_KEYS = ["data_offsets", "dtype", "shape"];

/** Validates the 8-byte little-endian prefix against `fileSize` and returns N. */
export function decodeHeaderLength(prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsError(
      "file_too_small",
      `expected at least 8 bytes for the header length, file has ${
        Math.min(fileSize, prefix.length)
      }`,
    );
  }
  // N is a u64; BigInt keeps values past 2^53 exact so the comparisons cannot wrap.
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  checkHeaderLength(n, fileSize);
  return Number(n);
}

function checkHeaderLength(n: bigint, fileSize: number): void {
  if (n > BigInt(MAX_HEADER_LENGTH)) {
    throw new SafetensorsError(
      "header_too_large",
      `expected header length <= ${MAX_HEADER_LENGTH}, got ${n}`,
    );
  }
  if (n > BigInt(fileSize) - 8n) {
    throw new SafetensorsError(
      "header_length_exceeds_file",
      `header length ${n} needs ${n + 8n} bytes, but the file has ${fileSize}`,
    );
  }
}

/** Validates a header's bytes against a file of `fileSize` bytes. Pure, one pass. */
export function parseHeader(headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  if (fileSize < 8) {
    throw new SafetensorsError(
      "file_too_small",
      `expected at least 8 bytes for the header length, file has ${fileSize}`,
    );
  }
  checkHeaderLength(BigInt(headerBytes.length), fileSize);
  const headerLength = headerBytes.length;
  const dataStart = 8 + headerLength;
  const root = parseHeaderObject(headerBytes);

  let metadata: Record<string, string> | null = null;
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(root)) {
    if (name === METADATA_KEY) metadata = parseMetadata(entry);
    else tensors.push(parseTensorInfo(name, entry));
  }
  // Sorting by end too puts a zero-size tensor before a non-empty one starting at the same byte.
  tensors.sort((a, b) =>
    a.begin - b.begin || a.end - b.end || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
  checkContiguous(tensors);

  const dataLength = fileSize - dataStart;
  const dataEnd = tensors.length === 0 ? 0 : tensors[tensors.length - 1].end;
  if (dataEnd !== dataLength) {
    throw new SafetensorsError(
      "data_length_mismatch",
      `expected a data section of ${dataEnd} bytes (end of last tensor), ` +
        `but the file has ${dataLength} bytes after the ${dataStart}-byte header`,
    );
  }
  return { headerLength, headerBytes, dataStart, fileSize, metadata, tensors };
}

/** Reads the 8-byte length and the header with two positional reads, then validates. Never reads the data section. */
export async function readSafetensorsHeader(
  reader: RandomAccessReader,
): Promise<SafetensorsHeader> {
  if (reader.size < 8) {
    throw new SafetensorsError(
      "file_too_small",
      `expected at least 8 bytes for the header length, file has ${reader.size}`,
    );
  }
  const n = decodeHeaderLength(await reader.readAt(0, 8), reader.size);
  return parseHeader(await reader.readAt(8, n), reader.size);
}

function parseHeaderObject(bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    throw new SafetensorsError("header_not_utf8", "expected the header to be valid UTF-8", {
      cause: err,
    });
  }
  if (bytes[0] !== 0x7b) {
    // Valid JSON of another type deserves the more specific diagnosis.
    const kind = parsesAsNonObject(text) ? "header_not_object" : "header_bad_start";
    const got = bytes.length === 0 ? "an empty header" : `byte 0x${hex(bytes[0])}`;
    throw new SafetensorsError(kind, `expected the header to start with "{", got ${got}`);
  }
  let parsed: { value: unknown; end: number };
  try {
    parsed = parseStrictJson(text);
  } catch (err) {
    const dup = (err as Error).cause as { duplicateKey?: string } | undefined;
    if (dup?.duplicateKey !== undefined) {
      throw new SafetensorsError(
        "duplicate_key",
        `expected unique keys in the header, got ${JSON.stringify(dup.duplicateKey)} twice`,
        { cause: err },
      );
    }
    throw new SafetensorsError("header_invalid_json", `header: ${(err as Error).message}`, {
      cause: err,
    });
  }
  for (let i = parsed.end; i < text.length; i++) {
    if (text.charCodeAt(i) !== 0x20) {
      throw new SafetensorsError(
        "header_trailing_garbage",
        `expected only spaces after the header's JSON object, got ` +
          `${JSON.stringify(text[i])} at character ${i}`,
      );
    }
  }
  if (!isPlainObject(parsed.value)) {
    throw new SafetensorsError("header_not_object", "expected the header to be a JSON object");
  }
  return parsed.value;
}

function parsesAsNonObject(text: string): boolean {
  try {
    const { value, end } = parseStrictJson(text);
    return !isPlainObject(value) && text.slice(end).trim() === "";
  } catch {
    return false;
  }
}

function parseMetadata(entry: unknown): Record<string, string> {
  if (!isPlainObject(entry)) {
    throw new SafetensorsError(
      "metadata_invalid",
      `expected __metadata__ to be an object of strings, got ${describe(entry)}`,
    );
  }
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== "string") {
      throw new SafetensorsError(
        "metadata_invalid",
        `expected __metadata__ ${JSON.stringify(key)} to be a string, got ${describe(value)}`,
      );
    }
  }
  return entry as Record<string, string>;
}

function parseTensorInfo(name: string, entry: unknown): TensorInfo {
  const label = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(entry)) {
    throw new SafetensorsError(
      "tensor_invalid_info",
      `${label}: expected an object with dtype, shape and data_offsets, got ${describe(entry)}`,
    );
  }
  const keys = Object.keys(entry).sort();
  if (keys.length !== INFO_KEYS.length || keys.some((k, i) => k !== INFO_KEYS[i])) {
    throw new SafetensorsError(
      "tensor_invalid_info",
      `${label}: expected exactly the keys [data_offsets,dtype,shape], got [${keys}]`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== "string") {
    throw new SafetensorsError(
      "tensor_invalid_info",
      `${label}: expected dtype to be a string, got ${describe(dtype)}`,
    );
  }
  if (!Array.isArray(shape)) {
    throw new SafetensorsError(
      "tensor_invalid_info",
      `${label}: expected shape to be an array, got ${describe(shape)}`,
    );
  }
  if (!Array.isArray(offsets)) {
    throw new SafetensorsError(
      "tensor_invalid_info",
      `${label}: expected data_offsets to be an array, got ${describe(offsets)}`,
    );
  }
  if (!isDtype(dtype)) {
    throw new SafetensorsError("unknown_dtype", `${label}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!shape.every(isNonNegativeSafeInteger)) {
    throw new SafetensorsError(
      "invalid_shape",
      `${label}: expected shape of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
  if (
    offsets.length !== 2 || !offsets.every(isNonNegativeSafeInteger) || offsets[0] > offsets[1]
  ) {
    throw new SafetensorsError(
      "invalid_offsets",
      `${label}: expected data_offsets [begin, end] of non-negative integers with ` +
        `begin <= end, got ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as number[];
  const width = dtypeWidth(dtype);
  const size = checkedByteSize(label, shape as number[], width);
  if (size !== end - begin) {
    throw new SafetensorsError(
      "size_mismatch",
      `${label}: shape [${shape}] × ${width} bytes = ${size}, ` +
        `but data_offsets span ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Element count × width, refusing results that a double cannot represent exactly. */
function checkedByteSize(label: string, shape: number[], width: number): number {
  // A zero dimension makes the exact size 0 however large the other dimensions are.
  if (shape.includes(0)) return 0;
  let size = width;
  for (const dim of shape) {
    size *= dim;
    if (size > Number.MAX_SAFE_INTEGER) {
      throw new SafetensorsError(
        "size_overflow",
        `${label}: shape [${shape}] × ${width} bytes exceeds ${Number.MAX_SAFE_INTEGER} bytes`,
      );
    }
  }
  return size;
}

function checkContiguous(sorted: TensorInfo[]): void {
  let expected = 0;
  let previous: TensorInfo | null = null;
  for (const t of sorted) {
    if (t.begin !== expected) {
      const label = `tensor ${JSON.stringify(t.name)}`;
      const relation = previous === null
        ? "the data section starts at 0"
        : `tensor ${JSON.stringify(previous.name)} ends at ${expected}`;
      const problem = t.begin > expected ? "a gap" : "an overlap";
      throw new SafetensorsError(
        "offsets_not_contiguous",
        `${label}: expected to begin at ${expected} (${relation}), got ${t.begin}: ${problem}`,
      );
    }
    expected = t.end;
    previous = t;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isNonNegativeSafeInteger(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "string" ? `string ${JSON.stringify(v)}` : typeof v;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
