/**
 * The container index (docs/FORMAT.md, "Index"): its types, and a parser that checks every member
 * and every cross-field rule.
 *
 * Written by hand rather than with a schema library: the index is parsed on every open, in the CLI,
 * the server and browsers, and zod's module load and schema construction were 30-40 ms of a cold
 * `unpack` of a 1,184-tensor file (profiled: `ZodType` construction 17.6 ms, `safeParse` 12 ms,
 * plus evaluating the package), more than decoding its 21.6 MB takes.
 * @module
 */
import {
  type Dtype,
  DTYPES,
  dtypeWidth,
  isDtype,
  mayPackInt4,
  planeLayout,
} from "../../codec/dtype.ts";
import { gridSize, type TileGeometry, tileRect } from "../../codec/tiles.ts";
import { ContainerError } from "./errors.ts";
import { repeatedMemberName } from "./duplicate_keys.ts";
import { MAX_HEADER_LENGTH } from "../safetensors/limits.ts";
import {
  HEAD_BYTES,
  MAX_ALIGNMENT,
  MAX_CHUNK_RAW,
  MIN_ALIGNMENT,
  MIN_ALIGNMENT_V2,
  READ_VERSIONS,
} from "./format.ts";
import {
  checkVariantMembers,
  DEFINED_VARIANT_KINDS,
  validateVariants,
  type VariantListEntry,
} from "./variant_index.ts";

// Strict UTF-8 for the index and the stored original header (header_agreement.ts). Here rather
// than in a module of its own: every module costs each process ~0.5-1 ms to load.
// Deno decodes with `fatal: true` by a general path that returns a two-byte (UTF-16) string; the
// lenient UTF-8 path returns a one-byte string for ASCII text, which JSON.parse also reads faster.
// On the 1.1 MB index of the 3,041-tensor model, a cold decode took 22 ms and 818 page faults
// strict, 9 ms and 272 faults lenient, and the JSON.parse after it 28 ms and 1,071 faults against
// 21 ms and 576 (fresh memory costs ~25 us a page on this virtual machine).
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * `bytes` as text, exactly as `new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })` decodes
 * them: malformed UTF-8 throws its TypeError, and a leading byte-order mark stays in the text.
 *
 * @example
 * ```ts
 * import { strictUtf8 } from "./index_schema.ts";
 * console.assert(strictUtf8(new TextEncoder().encode('{"a":1}')) === '{"a":1}');
 * ```
 */
export function strictUtf8(bytes: Uint8Array): string {
  const text = lenient.decode(bytes);
  // The lenient decoder puts U+FFFD for each malformed sequence: text without one came from valid
  // bytes. Text with one (malformed, or an encoded U+FFFD) is decoded again strictly.
  return text.indexOf("\uFFFD") === -1 ? text : strict.decode(bytes);
}

/**
 * The index's tensors by name: one map, built once per open for the header agreement and the
 * container (an indexed loop: it runs once per process, unoptimised, where `for...of` allocates).
 */
export function tensorsByName(index: Index): Map<string, TensorEntry> {
  const byName = new Map<string, TensorEntry>();
  for (let i = 0; i < index.tensors.length; i++) {
    byName.set(index.tensors[i].name, index.tensors[i]);
  }
  return byName;
}

/** One chunk: stored offset, stored length, raw length, XXH32 of stored bytes, XXH32 of raw bytes. */
export type ChunkRecord = [number, number, number, number, number];

const isU32 = (v: unknown) =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

/** Whether `v` is a list of chunk records. */
function isChunkTable(v: unknown): v is ChunkRecord[] {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (!Array.isArray(c) || c.length !== 5) return false;
    if (!Number.isSafeInteger(c[0]) || c[0] < 0) return false;
    if (!isU32(c[1]) || !isU32(c[2]) || !isU32(c[3]) || !isU32(c[4])) return false;
  }
  return true;
}

/** The byte-plane layout a lossless encoding records (docs/FORMAT.md, "Byte planes"). */
export interface LayoutRecord {
  /** Element width in bytes, 1-8. */
  readonly width: number;
  /** Whether the sign bit moved to the mantissa plane. */
  readonly signMoved: boolean;
  /** Version 3: packed 4-bit integers, one plane of the tile's bytes (FORMAT.md "Packed INT4"). */
  readonly packing?: "int4";
}

/** The lossless representation of a tensor. */
export interface Lossless {
  /** Always "lossless". */
  readonly kind: "lossless";
  /** Its plane layout. */
  readonly layout: LayoutRecord;
  /** Tile rows and columns. */
  readonly tile: [number, number];
  /** One record per tile, in row-major tile order. */
  readonly chunks: ChunkRecord[];
}

/**
 * Any other encoding: a variant (checked by variant_index.ts) or a kind a later version adds,
 * which a reader skips.
 */
export interface OtherEncoding {
  /** The encoding's kind. */
  readonly kind: string;
  /** Its other members, as the kind defines them. */
  readonly [member: string]: unknown;
}

/** One tensor entry of the index. */
export interface TensorEntry {
  /** Tensor name. */
  readonly name: string;
  /** Its dtype. */
  readonly dtype: Dtype;
  /** Its dimensions. */
  readonly shape: number[];
  /** Begin and end within the original data section. */
  readonly offsets: [number, number];
  /** The layer key it belongs to. */
  readonly layer: string;
  /** SHA-256 of its original bytes, lower-case hex. */
  readonly sha256: string;
  /** Its encodings: at most one lossless, any variants. */
  readonly encodings: (Lossless | OtherEncoding)[];
}

/** The original safetensors header as stored. */
export interface HeaderRecord {
  /** Where it is stored in the container. */
  readonly offset: number;
  /** Its stored length. */
  readonly storedLength: number;
  /** Its length (N of the safetensors prefix). */
  readonly length: number;
  /** 0 plain, 3 Zstandard. */
  readonly codec: 0 | 3;
  /** SHA-256 of the header's bytes. */
  readonly sha256: string;
}

/** The index as parsed. */
export interface Index {
  /** Always "tessera". */
  readonly format: "tessera";
  /** Format version, as the head declares it. */
  readonly version: number;
  /** Chunk alignment in bytes. */
  readonly alignment: number;
  /** The writer's target chunk size. */
  readonly chunkBytes: number;
  /** The codec trade-off it was packed with. */
  readonly mode: "fast" | "best";
  /** The original file: its size, SHA-256 and header. */
  readonly source: {
    readonly size: number;
    readonly sha256: string;
    readonly header: HeaderRecord;
  };
  /** The original file's `__metadata__`, or null. */
  readonly metadata: Record<string, string> | null;
  /** Layer keys, in load order. */
  readonly layers: string[];
  /** Every tensor, in data-section order. */
  readonly tensors: TensorEntry[];
  /** Version 3: the variants the container holds (docs/FORMAT.md, "Variants"); absent means none. */
  readonly variants?: VariantListEntry[];
}

const TENSOR_KEYS = new Set(["name", "dtype", "shape", "offsets", "layer", "sha256", "encodings"]);
const LOSSLESS_KEYS = new Set(["kind", "layout", "tile", "chunks"]);
const LAYOUT_KEYS = new Set(["width", "signMoved"]);
const PACKED_LAYOUT_KEYS = new Set(["width", "signMoved", "packing"]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// Names are unique within a parsed object, so as many names as `keys`, all in `keys`, is equality.
function hasExactly(v: Record<string, unknown>, keys: ReadonlySet<string>): boolean {
  let n = 0;
  for (const k in v) {
    if (!keys.has(k)) return false;
    n++;
  }
  return n === keys.size;
}

const isUint = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

function isUintList(v: unknown, length?: number): boolean {
  if (!Array.isArray(v) || (length !== undefined && v.length !== length)) return false;
  for (let i = 0; i < v.length; i++) if (!isUint(v[i])) return false;
  return true;
}

// 64 lowercase hex digits; a loop, as a regex costs 5x more per tensor.
function isHex256(v: unknown): boolean {
  if (typeof v !== "string" || v.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = v.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** Checks one tensor entry as tensorSchema would; returns it, or throws naming the field. */
function parseTensor(v: unknown, i: number): TensorEntry {
  const bad = (field: string, what: string): never =>
    fail(`index field tensors.${i}${field ? "." + field : ""}: ${what}`);
  if (!isRecord(v) || !hasExactly(v, TENSOR_KEYS)) bad("", `expected exactly ${[...TENSOR_KEYS]}`);
  const t = v as Record<string, unknown>;
  if (typeof t.name !== "string") bad("name", "expected a string");
  if (typeof t.dtype !== "string" || !isDtype(t.dtype)) bad("dtype", `expected one of ${DTYPES}`);
  if (!isUintList(t.shape)) bad("shape", "expected integers >= 0");
  if (!isUintList(t.offsets, 2)) bad("offsets", "expected [begin, end]");
  if (typeof t.layer !== "string") bad("layer", "expected a string");
  if (!isHex256(t.sha256)) bad("sha256", "expected 64 hex digits");
  const encodings = t.encodings;
  if (!Array.isArray(encodings) || encodings.length === 0) bad("encodings", "expected a list");
  for (let k = 0; k < (encodings as unknown[]).length; k++) {
    const e = (encodings as unknown[])[k], at = `encodings.${k}`;
    if (!isRecord(e) || typeof e.kind !== "string") bad(at, "expected an object with a kind");
    const enc = e as Record<string, unknown>;
    if (DEFINED_VARIANT_KINDS.has(enc.kind as string)) checkVariantMembers(enc, at, bad);
    if (enc.kind !== "lossless") continue;
    if (!hasExactly(enc, LOSSLESS_KEYS)) bad(at, `expected exactly ${[...LOSSLESS_KEYS]}`);
    const l = enc.layout;
    if (
      !isRecord(l) ||
      !(hasExactly(l, LAYOUT_KEYS) ||
        (hasExactly(l, PACKED_LAYOUT_KEYS) && l.packing === "int4")) ||
      !Number.isInteger(l.width) || (l.width as number) < 1 || (l.width as number) > 8 ||
      typeof l.signMoved !== "boolean"
    ) bad(`${at}.layout`, 'expected {width: 1-8, signMoved: boolean[, packing: "int4"]}');
    const tile = enc.tile;
    if (!isUintList(tile, 2) || (tile as number[])[0] === 0 || (tile as number[])[1] === 0) {
      bad(`${at}.tile`, "expected [tileRows, tileCols], both > 0");
    }
    if (!isChunkTable(enc.chunks)) {
      bad(
        `${at}.chunks`,
        "expected [offset, storedLength, rawLength, storedXxh32, rawXxh32] records",
      );
    }
  }
  return v as TensorEntry;
}

/**
 * The lossless representation of `t`. Only a variant-only container has a tensor without one
 * (docs/FORMAT.md, "Variants"): that is a `variant_only` error.
 */
export function losslessOf(t: TensorEntry): Lossless {
  for (const e of t.encodings) if (e.kind === "lossless") return e as Lossless;
  throw new ContainerError(
    "variant_only",
    `tensor "${t.name}" has no lossless encoding: the container holds only variants of it`,
  );
}

/** The tile geometry of `t`'s lossless representation. */
export function geometryOf(t: TensorEntry): TileGeometry {
  const l = losslessOf(t);
  const rows = t.shape.length === 0 ? 1 : t.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const cols = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1];
  return { rows, cols, width: l.layout.width, tileRows: l.tile[0], tileCols: l.tile[1] };
}

const INDEX_KEYS = new Set([
  "format",
  "version",
  "alignment",
  "chunkBytes",
  "mode",
  "source",
  "metadata",
  "layers",
  "tensors",
]);
const SOURCE_KEYS = new Set(["size", "sha256", "header"]);
const HEADER_KEYS = new Set(["offset", "storedLength", "length", "codec", "sha256"]);
const VARIANT_ENTRY_KEYS = new Set(["name", "deriveMs", "decodeMs", "sha256"]);

/** Checks the index's members as FORMAT.md "Index" lists them; the tensors by parseTensor. */
function parseTop(v: unknown): Index {
  const bad = (field: string, what: string): never =>
    fail(`index field ${field || "(root)"}: ${what}`);
  if (!isRecord(v)) bad("", "expected an object");
  const x = v as Record<string, unknown>;
  for (const k in x) {
    if (!INDEX_KEYS.has(k) && k !== "variants") bad(k, "unknown member");
  }
  for (const k of INDEX_KEYS) if (!(k in x)) bad(k, "missing");
  if (x.format !== "tessera") bad("format", 'expected "tessera"');
  if (typeof x.version !== "number" || !READ_VERSIONS.includes(x.version)) {
    bad("version", `expected ${READ_VERSIONS}`);
  }
  const a = x.alignment;
  if (!Number.isInteger(a) || (a as number) < MIN_ALIGNMENT || (a as number) > MAX_ALIGNMENT) {
    bad("alignment", `expected an integer from ${MIN_ALIGNMENT} to ${MAX_ALIGNMENT}`);
  }
  if (!Number.isSafeInteger(x.chunkBytes) || (x.chunkBytes as number) <= 0) {
    bad("chunkBytes", "expected a positive integer");
  }
  if (x.mode !== "fast" && x.mode !== "best") bad("mode", 'expected "fast" or "best"');
  const src = x.source;
  if (!isRecord(src) || !hasExactly(src, SOURCE_KEYS)) {
    bad("source", `expected ${[...SOURCE_KEYS]}`);
  }
  const source = src as Record<string, unknown>;
  if (!isUint(source.size)) bad("source.size", "expected an integer >= 0");
  if (!isHex256(source.sha256)) bad("source.sha256", "expected 64 hex digits");
  const h = source.header;
  if (!isRecord(h) || !hasExactly(h, HEADER_KEYS)) {
    bad("source.header", `expected ${[...HEADER_KEYS]}`);
  }
  const header = h as Record<string, unknown>;
  for (const k of ["offset", "storedLength", "length"]) {
    if (!isUint(header[k])) bad(`source.header.${k}`, "expected an integer >= 0");
  }
  if (header.codec !== 0 && header.codec !== 3) bad("source.header.codec", "expected 0 or 3");
  if (!isHex256(header.sha256)) bad("source.header.sha256", "expected 64 hex digits");
  const m = x.metadata;
  if (m !== null) {
    if (!isRecord(m)) bad("metadata", "expected an object or null");
    for (const k in m as Record<string, unknown>) {
      if (typeof (m as Record<string, unknown>)[k] !== "string") {
        bad(`metadata.${k}`, "expected a string");
      }
    }
  }
  if (!Array.isArray(x.layers) || !x.layers.every((l) => typeof l === "string")) {
    bad("layers", "expected a list of strings");
  }
  if (!Array.isArray(x.tensors)) bad("tensors", "expected a list");
  if (x.variants !== undefined) {
    if (!Array.isArray(x.variants)) bad("variants", "expected a list");
    (x.variants as unknown[]).forEach((e, i) => {
      if (
        !isRecord(e) || !hasExactly(e, VARIANT_ENTRY_KEYS) || typeof e.name !== "string" ||
        !isUint(e.deriveMs) || typeof e.decodeMs !== "number" || !Number.isFinite(e.decodeMs) ||
        e.decodeMs < 0 || !isHex256(e.sha256)
      ) {
        bad(
          `variants.${i}`,
          "expected {name: string, deriveMs: integer >= 0, decodeMs: number >= 0, " +
            "sha256: 64 hex digits}",
        );
      }
    });
  }
  return { ...x, tensors: (x.tensors as unknown[]).map(parseTensor) } as unknown as Index;
}

/**
 * Parses index JSON bytes and checks every cross-field rule against a file of `fileSize` bytes
 * whose head declares format `version`.
 */
export function parseIndex(bytes: Uint8Array, fileSize: number, version: number): Index {
  let json: unknown;
  try {
    // A leading byte-order mark stays in the text, so that JSON.parse refuses it.
    const text = strictUtf8(bytes);
    json = JSON.parse(text);
    const repeated = repeatedMemberName(text, json);
    if (repeated !== null) throw new Error(`member name "${repeated}" appears twice in one object`);
  } catch (e) {
    throw new ContainerError("index_invalid", `index is not UTF-8 JSON: ${(e as Error).message}`);
  }
  const index = parseTop(json);
  if (index.version !== version) {
    fail(`index version ${index.version} differs from the head's version ${version}`);
  }
  validateIndex(index, fileSize);
  return index;
}

function fail(message: string): never {
  throw new ContainerError("index_invalid", message);
}

/**
 * Checks what the schema cannot: sizes, contiguity, chunk bounds, order and alignment, and tile
 * counts.
 */
export function validateIndex(index: Index, fileSize: number): void {
  const { source, alignment } = index;
  if ((alignment & (alignment - 1)) !== 0) fail(`alignment ${alignment} is not a power of two`);
  // Version 3 allows any power of two from 1 (FORMAT.md "Cross-field rules", rule 1).
  if (index.version < 3 && alignment < MIN_ALIGNMENT_V2) {
    fail(
      `alignment ${alignment} is below ${MIN_ALIGNMENT_V2}, the least of version ${index.version}`,
    );
  }
  const header = source.header;
  if (header.length > MAX_HEADER_LENGTH) {
    fail(`original header of ${header.length} bytes exceeds ${MAX_HEADER_LENGTH}`);
  }
  if (header.offset < HEAD_BYTES || header.offset + header.storedLength > fileSize) {
    fail(`original header at ${header.offset}+${header.storedLength} is past the file end`);
  }
  if (header.codec === 0 && header.storedLength !== header.length) {
    fail(`plain original header stores ${header.storedLength} bytes for ${header.length}`);
  }
  let expectedBegin = 0, chunksEnd = 0;
  const headerEnd = header.offset + header.storedLength;
  const names = new Set<string>();
  // Indexed loops and no destructuring: the index is checked once per process, by code that V8
  // has not optimised yet, where `for...of` and `const [a, b] = array` allocate iterator objects
  // for every element. The garbage grows the young generation, whose fresh pages cost ~25 us each
  // on a virtual machine. With the lenient-first UTF-8 decoding (strictUtf8) and the same in
  // validateVariants and the header agreement, a cold openContainer of the 3,041-tensor model
  // took 5,650 -> 4,050 page faults and 135 -> 103 ms of CPU (6 alternating runs, load 7).
  const tensors = index.tensors;
  for (let ti = 0; ti < tensors.length; ti++) {
    const t = tensors[ti];
    if (names.has(t.name)) fail(`tensor "${t.name}" appears twice`);
    names.add(t.name);
    const begin = t.offsets[0], end = t.offsets[1];
    if (begin !== expectedBegin) {
      fail(`tensor "${t.name}" begins at ${begin}, expected ${expectedBegin}`);
    }
    let elements = 1;
    for (let d = 0; d < t.shape.length; d++) elements *= t.shape[d];
    const width = dtypeWidth(t.dtype);
    if (!Number.isSafeInteger(elements * width) || elements * width !== end - begin) {
      fail(
        `tensor "${t.name}": shape ${JSON.stringify(t.shape)} does not fill ${end - begin} bytes`,
      );
    }
    expectedBegin = end;
    let losslessCount = 0, lossless: Lossless | undefined;
    for (let k = 0; k < t.encodings.length; k++) {
      const e = t.encodings[k];
      if (e.kind !== "lossless") continue;
      lossless ??= e as Lossless;
      losslessCount++;
    }
    if (losslessCount > 1) fail(`tensor "${t.name}" has more than one lossless encoding`);
    // A variant-only tensor has none; validateVariants checks that its variants cover it.
    if (lossless === undefined) continue;
    const layout = planeLayout(t.dtype);
    if (lossless.layout.width !== layout.width || lossless.layout.signMoved !== layout.signMoved) {
      fail(`tensor "${t.name}": plane layout does not match dtype ${t.dtype}`);
    }
    if (lossless.layout.packing && (index.version < 3 || !mayPackInt4(t.dtype))) {
      fail(
        `tensor "${t.name}": packed INT4 layout needs version 3 and an 8- or 32-bit integer dtype`,
      );
    }
    const g = geometryOf(t);
    const grid = gridSize(g), tiles = grid[0] * grid[1];
    if (lossless.chunks.length !== tiles) {
      fail(`tensor "${t.name}" has ${lossless.chunks.length} chunks, its tile grid needs ${tiles}`);
    }
    const chunks = lossless.chunks;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i], offset = c[0], stored = c[1], raw = c[2], r = tileRect(g, i);
      // Bounds what one chunk makes a reader allocate, whatever the index claims.
      if (raw > MAX_CHUNK_RAW) {
        fail(`tensor "${t.name}" chunk ${i}: raw length ${raw} exceeds ${MAX_CHUNK_RAW}`);
      }
      if (raw !== (r.r1 - r.r0) * (r.c1 - r.c0) * width) {
        fail(`tensor "${t.name}" chunk ${i}: raw length ${raw} does not match its tile`);
      }
      if (offset < HEAD_BYTES || offset % alignment !== 0 || offset + stored > fileSize) {
        fail(
          `tensor "${t.name}" chunk ${i}: ${offset}+${stored} is misaligned or past the file end`,
        );
      }
      // Rule 12: a record swapped or copied in the index keeps its checksums, so only its place
      // in the file shows that it is not the tile it claims to be.
      if (offset < chunksEnd) {
        fail(
          `tensor "${t.name}" chunk ${i}: offset ${offset} is before ${chunksEnd}, the end of ` +
            "the previous chunk; chunks lie in index order without overlapping",
        );
      }
      if (header.storedLength > 0 && offset < headerEnd && offset + stored > header.offset) {
        fail(`tensor "${t.name}" chunk ${i}: ${offset}+${stored} overlaps the stored header`);
      }
      chunksEnd = offset + stored;
    }
  }
  if (8 + header.length + expectedBegin !== source.size) {
    fail(`tensors end at ${expectedBegin}, the original file size ${source.size} disagrees`);
  }
  validateVariants(index, index.variants ?? [], fileSize, fail);
  const layers = new Set(index.layers);
  if (layers.size !== index.layers.length) fail("layers list a key twice");
  for (let ti = 0; ti < tensors.length; ti++) {
    const t = tensors[ti];
    if (!layers.has(t.layer)) {
      fail(`tensor "${t.name}" is in layer "${t.layer}", which layers omit`);
    }
  }
}
