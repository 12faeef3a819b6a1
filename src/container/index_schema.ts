/**
 * The container index (docs/FORMAT.md, "Index"): its zod schema and the checks zod cannot express.
 * @module
 */
import { z } from "zod";
import { DTYPES, dtypeWidth, isDtype, planeLayout } from "../../codec/dtype.ts";
import { gridSize, type TileGeometry, tileRect } from "../../codec/tiles.ts";
import { ContainerError } from "./errors.ts";
import { repeatedMemberName } from "./duplicate_keys.ts";
import { MAX_HEADER_LENGTH } from "../safetensors/limits.ts";
import { HEAD_BYTES, MAX_ALIGNMENT, MAX_CHUNK_RAW, READ_VERSIONS } from "./format.ts";
import { checkVariantMembers, DEFINED_VARIANT_KINDS, validateVariants } from "./variant_index.ts";

const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const hex256 = z.string().regex(/^[0-9a-f]{64}$/);

/** One chunk: stored offset, stored length, raw length, XXH32 of stored bytes, XXH32 of raw bytes. */
export type ChunkRecord = [number, number, number, number, number];

const isU32 = (v: unknown) =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

/** Whether `v` is a list of chunk records; checked by hand, as zod tuples tripled open time. */
function isChunkTable(v: unknown): v is ChunkRecord[] {
  if (!Array.isArray(v)) return false;
  for (const c of v) {
    if (!Array.isArray(c) || c.length !== 5) return false;
    if (!Number.isSafeInteger(c[0]) || c[0] < 0) return false;
    if (!isU32(c[1]) || !isU32(c[2]) || !isU32(c[3]) || !isU32(c[4])) return false;
  }
  return true;
}

/** The chunk table of a lossless encoding. */
export const chunkTableSchema = z.custom<ChunkRecord[]>(
  isChunkTable,
  "chunks must be [offset, storedLength, rawLength, storedXxh32, rawXxh32] records of integers " +
    "(offset a safe non-negative integer, the rest u32)",
);

/** The lossless representation every tensor has. */
export const losslessSchema = z.object({
  kind: z.literal("lossless"),
  layout: z.object({ width: z.number().int().min(1).max(8), signMoved: z.boolean() }).strict(),
  tile: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  chunks: chunkTableSchema,
}).strict();

// Representations a later version adds (lossy variants, deltas) carry their own kind; a reader
// skips kinds it does not know, because the lossless representation is always there too.
const otherEncodingSchema = z.object({
  kind: z.string().refine((k) => k !== "lossless", "a lossless encoding must match its schema"),
}).passthrough();

/** One tensor of the original file. */
export const tensorSchema = z.object({
  name: z.string(),
  dtype: z.enum(DTYPES),
  shape: z.array(uint),
  offsets: z.tuple([uint, uint]),
  layer: z.string(),
  sha256: hex256,
  encodings: z.array(z.union([losslessSchema, otherEncodingSchema])).min(1),
}).strict();

/** The whole index. */
export const indexSchema = z.object({
  format: z.literal("tessera"),
  version: z.number().refine((v) => READ_VERSIONS.includes(v), `expected ${READ_VERSIONS}`),
  alignment: z.number().int().min(64).max(MAX_ALIGNMENT),
  chunkBytes: z.number().int().positive(),
  mode: z.enum(["fast", "best"]),
  source: z.object({
    size: uint,
    sha256: hex256,
    header: z.object({
      offset: uint,
      storedLength: uint,
      length: uint,
      codec: z.union([z.literal(0), z.literal(3)]),
      sha256: hex256,
    }).strict(),
  }).strict(),
  metadata: z.record(z.string()).nullable(),
  layers: z.array(z.string()),
  // Checked by parseTensor, which follows tensorSchema exactly at a tenth of zod's cost: with
  // hundreds of tensors, zod objects were a third of the time to open a container.
  tensors: z.array(z.unknown()),
  // Version 3: the variants the container holds (docs/FORMAT.md, "Variants"); absent means none.
  variants: z.array(
    z.object({
      name: z.string(),
      deriveMs: uint,
      decodeMs: z.number().nonnegative(),
      sha256: hex256,
    })
      .strict(),
  )
    .optional(),
}).strict();

/** One tensor entry of the index. */
export type TensorEntry = z.infer<typeof tensorSchema>;
/** The index as parsed. */
export type Index = Omit<z.infer<typeof indexSchema>, "tensors"> & { tensors: TensorEntry[] };

const TENSOR_KEYS = new Set(["name", "dtype", "shape", "offsets", "layer", "sha256", "encodings"]);
const LOSSLESS_KEYS = new Set(["kind", "layout", "tile", "chunks"]);
const LAYOUT_KEYS = new Set(["width", "signMoved"]);

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
      !isRecord(l) || !hasExactly(l, LAYOUT_KEYS) || !Number.isInteger(l.width) ||
      (l.width as number) < 1 || (l.width as number) > 8 || typeof l.signMoved !== "boolean"
    ) bad(`${at}.layout`, "expected {width: 1-8, signMoved: boolean}");
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
/** The lossless representation of a tensor. */
export type Lossless = z.infer<typeof losslessSchema>;

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

/**
 * Parses index JSON bytes and checks every cross-field rule against a file of `fileSize` bytes
 * whose head declares format `version`.
 */
export function parseIndex(bytes: Uint8Array, fileSize: number, version: number): Index {
  let json: unknown;
  try {
    // ignoreBOM keeps a leading byte-order mark in the text, so that JSON.parse refuses it.
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    json = JSON.parse(text);
    const repeated = repeatedMemberName(text, json);
    if (repeated !== null) throw new Error(`member name "${repeated}" appears twice in one object`);
  } catch (e) {
    throw new ContainerError("index_invalid", `index is not UTF-8 JSON: ${(e as Error).message}`);
  }
  const parsed = indexSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ContainerError(
      "index_invalid",
      `index field ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  if (parsed.data.version !== version) {
    fail(`index version ${parsed.data.version} differs from the head's version ${version}`);
  }
  const index: Index = { ...parsed.data, tensors: parsed.data.tensors.map(parseTensor) };
  validateIndex(index, fileSize);
  return index;
}

function fail(message: string): never {
  throw new ContainerError("index_invalid", message);
}

/** Checks what the schema cannot: sizes, contiguity, chunk bounds, alignment and tile counts. */
export function validateIndex(index: Index, fileSize: number): void {
  const { source, alignment } = index;
  if ((alignment & (alignment - 1)) !== 0) fail(`alignment ${alignment} is not a power of two`);
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
  let expectedBegin = 0;
  const names = new Set<string>();
  for (const t of index.tensors) {
    if (names.has(t.name)) fail(`tensor "${t.name}" appears twice`);
    names.add(t.name);
    const [begin, end] = t.offsets;
    if (begin !== expectedBegin) {
      fail(`tensor "${t.name}" begins at ${begin}, expected ${expectedBegin}`);
    }
    let elements = 1;
    for (const d of t.shape) elements *= d;
    const width = dtypeWidth(t.dtype);
    if (!Number.isSafeInteger(elements * width) || elements * width !== end - begin) {
      fail(
        `tensor "${t.name}": shape ${JSON.stringify(t.shape)} does not fill ${end - begin} bytes`,
      );
    }
    expectedBegin = end;
    let losslessCount = 0;
    for (const e of t.encodings) if (e.kind === "lossless") losslessCount++;
    if (losslessCount > 1) fail(`tensor "${t.name}" has more than one lossless encoding`);
    // A variant-only tensor has none; validateVariants checks that its variants cover it.
    if (losslessCount === 0) continue;
    const lossless = losslessOf(t);
    const layout = planeLayout(t.dtype);
    if (lossless.layout.width !== layout.width || lossless.layout.signMoved !== layout.signMoved) {
      fail(`tensor "${t.name}": plane layout does not match dtype ${t.dtype}`);
    }
    const g = geometryOf(t);
    const [gr, gc] = gridSize(g);
    if (lossless.chunks.length !== gr * gc) {
      fail(
        `tensor "${t.name}" has ${lossless.chunks.length} chunks, its tile grid needs ${gr * gc}`,
      );
    }
    const chunks = lossless.chunks;
    for (let i = 0; i < chunks.length; i++) {
      const [offset, stored, raw] = chunks[i], r = tileRect(g, i);
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
    }
  }
  if (8 + header.length + expectedBegin !== source.size) {
    fail(`tensors end at ${expectedBegin}, the original file size ${source.size} disagrees`);
  }
  validateVariants(index, index.variants ?? [], fileSize, fail);
  const layers = new Set(index.layers);
  if (layers.size !== index.layers.length) fail("layers list a key twice");
  for (const t of index.tensors) {
    if (!layers.has(t.layer)) {
      fail(`tensor "${t.name}" is in layer "${t.layer}", which layers omit`);
    }
  }
}
