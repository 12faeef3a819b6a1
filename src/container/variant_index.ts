/**
 * The index rules of variant encodings (docs/FORMAT.md, "Variants"): exact members per kind, then
 * the rules that tie them to their tensor, their chunks and the top-level `variants` list.
 * @module
 */
import { dtypeWidth } from "../../codec/dtype.ts";
import { tileRect } from "../../codec/tiles.ts";
import {
  chunkCount,
  chunkLayout,
  isLossy,
  type LossyEncoding,
  VARIANT_NAME,
  type VariantEncoding,
  variantGeometry,
} from "../../codec/variants/encoding.ts";
import { isFloatDtype } from "../../codec/variants/float.ts";
import { isViewOf } from "../../codec/variants/view.ts";
import { HEAD_BYTES, MAX_CHUNK_RAW } from "./format.ts";
import type { Index, TensorEntry } from "./index_schema.ts";

/** The kinds version 3 defines besides `lossless`. */
export const DEFINED_VARIANT_KINDS: ReadonlySet<string> = new Set([
  "int8",
  "cast",
  "ternary",
  "lowrank",
  "sparse",
  "exact",
]);

/** One entry of the top-level `variants` list. */
export interface VariantListEntry {
  /** The variant's name. */
  readonly name: string;
  /** Milliseconds spent deriving it; 0 if not recorded. */
  readonly deriveMs: number;
  /** Milliseconds the writer's reader took to decode its lossy tensors once; 0 if not recorded. */
  readonly decodeMs: number;
  /**
   * SHA-256 (lower-case hex) of the variant's file: the original file with every tensor as the
   * variant serves it (dequantised, or exact).
   */
  readonly sha256: string;
}

type Bad = (field: string, what: string) => never;

const COMMON = [
  "kind",
  "name",
  "reason",
  "view",
  "params",
  "tile",
  "chunks",
  "error",
  "sha256",
];
const HEX256 = /^[0-9a-f]{64}$/;
const PARAMS: Record<string, string[]> = {
  int8: ["scheme", "group", "scale"],
  cast: ["dtype"],
  ternary: ["bases", "group", "scale", "packing"],
  lowrank: ["rank", "factor"],
  sparse: ["threshold", "layout"],
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function exactly(v: Record<string, unknown>, keys: readonly string[]): boolean {
  const names = Object.keys(v);
  return names.length === keys.length && names.every((k) => keys.includes(k));
}

const isUint = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isU32 = (v: unknown) => isUint(v) && (v as number) <= 0xffffffff;
const isPair = (v: unknown, min: number) =>
  Array.isArray(v) && v.length === 2 && v.every((x) => isUint(x) && x >= min);

/**
 * Checks the members of encoding `e` (at `at` in the index), of a kind in
 * {@link DEFINED_VARIANT_KINDS}, calling `bad` on the first violation.
 */
export function checkVariantMembers(e: Record<string, unknown>, at: string, bad: Bad): void {
  if (e.kind === "exact") {
    if (!exactly(e, ["kind", "name", "reason"])) bad(at, "expected exactly kind, name, reason");
    if (typeof e.name !== "string" || typeof e.reason !== "string") {
      bad(at, "name and reason must be strings");
    }
    return;
  }
  if (!exactly(e, COMMON)) bad(at, `expected exactly ${COMMON}`);
  if (typeof e.name !== "string") bad(`${at}.name`, "expected a string");
  if (typeof e.reason !== "string") bad(`${at}.reason`, "expected a string");
  if (typeof e.sha256 !== "string" || !HEX256.test(e.sha256)) {
    bad(`${at}.sha256`, "expected 64 lower-case hex digits");
  }
  if (!isPair(e.view, 0)) bad(`${at}.view`, "expected [rows, cols]");
  if (!isPair(e.tile, 1)) bad(`${at}.tile`, "expected [tileRows, tileCols], both > 0");
  const chunks = e.chunks;
  if (
    !Array.isArray(chunks) ||
    !chunks.every((c) =>
      Array.isArray(c) && c.length === 5 && isUint(c[0]) && isU32(c[1]) && isU32(c[2]) &&
      isU32(c[3]) && isU32(c[4])
    )
  ) {
    bad(
      `${at}.chunks`,
      "expected [offset, storedLength, rawLength, storedXxh32, rawXxh32] records",
    );
  }
  const err = e.error;
  const num = (v: unknown) => v === null || (typeof v === "number" && Number.isFinite(v));
  if (
    !isRecord(err) || !exactly(err, ["relRmse", "maxAbs"]) || !num(err.relRmse) || !num(err.maxAbs)
  ) {
    bad(`${at}.error`, "expected {relRmse, maxAbs}, numbers or null");
  }
  const p = e.params, kind = e.kind as string;
  if (!isRecord(p) || !exactly(p, PARAMS[kind])) {
    bad(`${at}.params`, `expected exactly ${PARAMS[kind]}`);
  }
  const params = p as Record<string, unknown>;
  const scale = () => params.scale === "F16" || params.scale === "F32";
  const group = () => isUint(params.group) && (params.group as number) >= 1;
  let ok: boolean;
  switch (kind) {
    case "int8":
      ok = (params.scheme === "symmetric" || params.scheme === "asymmetric") && group() && scale();
      break;
    case "cast":
      ok = params.dtype === "F16" || params.dtype === "BF16";
      break;
    case "ternary":
      ok = Number.isInteger(params.bases) && (params.bases as number) >= 1 &&
        (params.bases as number) <= 4 && group() && scale() &&
        (params.packing === "2bit" || params.packing === "base3");
      break;
    case "lowrank":
      ok = isUint(params.rank) && (params.rank as number) >= 1 &&
        (params.factor === "F16" || params.factor === "BF16");
      break;
    default:
      ok = typeof params.threshold === "number" && (params.threshold as number) >= 0 &&
        (params.layout === "coo" || params.layout === "dense");
  }
  if (!ok) bad(`${at}.params`, `invalid ${kind} parameters ${JSON.stringify(params)}`);
}

/**
 * Checks the variant rules 1-7 of docs/FORMAT.md against `index` (whose members are checked) for
 * a file of `fileSize` bytes; `fail` throws.
 */
export function validateVariants(
  index: Index,
  variants: readonly VariantListEntry[],
  fileSize: number,
  fail: (message: string) => never,
): void {
  const names = new Set<string>();
  for (const v of variants) {
    if (!VARIANT_NAME.test(v.name)) fail(`variant name "${v.name}" is not allowed`);
    if (names.has(v.name)) fail(`variant "${v.name}" is listed twice`);
    names.add(v.name);
  }
  if (variants.length > 0) checkPlaces(index, fail);
  const tensors = index.tensors;
  for (let ti = 0; ti < tensors.length; ti++) {
    const t = tensors[ti];
    // A tensor with its lossless encoding only, the usual case, has nothing to check here: skipping
    // it spares the two sets below for each tensor of every container opened.
    if (t.encodings.length === 1 && t.encodings[0].kind === "lossless") continue;
    const mine = new Set<string>();
    let lossless = 0;
    const covered = new Set<string>();
    for (const e of t.encodings) {
      if (e.kind === "lossless") {
        lossless++;
        continue;
      }
      const name = (e as { name?: unknown }).name;
      if (typeof name === "string") covered.add(name);
      if (!DEFINED_VARIANT_KINDS.has(e.kind)) continue;
      const v = e as unknown as VariantEncoding;
      const at = `tensor "${t.name}" variant "${v.name}"`;
      if (!names.has(v.name)) fail(`${at}: not in the variants list`);
      if (mine.has(v.name)) fail(`${at}: appears twice`);
      mine.add(v.name);
      if (isLossy(v)) checkLossy(t, v, index.alignment, fileSize, (m) => fail(`${at}: ${m}`));
    }
    if (lossless > 1) fail(`tensor "${t.name}" has ${lossless} lossless encodings`);
    if (lossless === 0) {
      if (!t.encodings.some(isLossy)) {
        fail(`tensor "${t.name}" has neither a lossless nor a lossy encoding`);
      }
      for (const e of t.encodings) {
        if (e.kind === "exact") {
          fail(`tensor "${t.name}": an exact variant needs a lossless encoding`);
        }
      }
      for (const n of names) {
        if (!covered.has(n)) {
          fail(`tensor "${t.name}" has no lossless encoding and no encoding of variant "${n}"`);
        }
      }
    }
  }
}

/**
 * Rule 12 for every representation: a chunk's checksums are in its own record, so a variant
 * record swapped with another of the same raw length would read another tile's bytes, which only
 * the file's place of each chunk reveals. Within each variant, chunks lie in index order (tensors
 * in index order, each in tile order); no chunk of any representation overlaps another or the
 * stored header. The lossless chunks' order is checked with the rest of the index.
 */
function checkPlaces(index: Index, fail: (message: string) => never): void {
  const header = index.source.header, headerEnd = header.offset + header.storedLength;
  const ends = new Map<string, number>();
  const all: { offset: number; end: number; what: string }[] = [];
  for (const t of index.tensors) {
    for (const e of t.encodings) {
      const chunks = (e as { chunks?: unknown }).chunks;
      if (!Array.isArray(chunks)) continue;
      const name = e.kind === "lossless" ? "" : (e as { name?: unknown }).name;
      if (typeof name !== "string") continue;
      let end = ends.get(name) ?? 0;
      for (let i = 0; i < chunks.length; i++) {
        const [offset, stored] = chunks[i] as number[];
        const what = `tensor "${t.name}" ${name ? `variant "${name}"` : "lossless"} chunk ${i}`;
        if (name && offset < end) {
          fail(
            `${what}: offset ${offset} is before ${end}, the end of the variant's previous chunk; ` +
              "a variant's chunks lie in index order",
          );
        }
        if (header.storedLength > 0 && offset < headerEnd && offset + stored > header.offset) {
          fail(`${what}: ${offset}+${stored} overlaps the stored header`);
        }
        end = offset + stored;
        if (stored > 0) all.push({ offset, end, what });
      }
      ends.set(name, end);
    }
  }
  all.sort((a, b) => a.offset - b.offset);
  for (let k = 1; k < all.length; k++) {
    if (all[k].offset < all[k - 1].end) fail(`${all[k].what} overlaps ${all[k - 1].what}`);
  }
}

function checkLossy(
  t: TensorEntry,
  e: LossyEncoding,
  alignment: number,
  fileSize: number,
  fail: (message: string) => never,
): void {
  if (!isFloatDtype(t.dtype)) fail(`dtype ${t.dtype} is not a float dtype`);
  const elements = t.shape.reduce((a, b) => a * b, 1);
  if (elements === 0) fail("a tensor with no elements has no lossy encoding");
  if (!isViewOf(e.view, t.shape)) fail(`view ${e.view} is not a split of ${t.shape}`);
  const [rows, cols] = e.view;
  if (e.kind === "int8" || e.kind === "ternary") {
    if (e.tile[1] < cols && e.tile[1] % e.params.group !== 0) {
      fail(`tile width ${e.tile[1]} splits groups of ${e.params.group}`);
    }
  }
  if (e.kind === "lowrank" && e.params.rank > Math.min(rows, cols)) {
    fail(`rank ${e.params.rank} exceeds ${Math.min(rows, cols)}`);
  }
  const count = chunkCount(e);
  if (e.chunks.length !== count) fail(`${e.chunks.length} chunks, its layout needs ${count}`);
  const g = variantGeometry(e), width = dtypeWidth(t.dtype);
  for (let i = 0; i < count; i++) {
    const [offset, stored, raw] = e.chunks[i];
    if (raw > MAX_CHUNK_RAW) fail(`chunk ${i}: raw length ${raw} exceeds ${MAX_CHUNK_RAW}`);
    if (offset < HEAD_BYTES || offset % alignment !== 0 || offset + stored > fileSize) {
      fail(`chunk ${i}: ${offset}+${stored} is misaligned or past the file end`);
    }
    const layout = chunkLayout(e, t.dtype, i);
    if (layout.rawLengths.every((n) => n !== null)) {
      const want = (layout.rawLengths as number[]).reduce((a, b) => a + b, 0);
      if (raw !== want) fail(`chunk ${i}: raw length ${raw}, its sections need ${want}`);
    } else {
      const r = tileRect(g, i), n = raw / (4 + width);
      if (!Number.isInteger(n) || n > (r.r1 - r.r0) * (r.c1 - r.c0)) {
        fail(`chunk ${i}: raw length ${raw} is not whole entries of its tile`);
      }
    }
  }
}

/**
 * The lossy encoding of tensor `t` in variant `name`, or null when the variant serves `t` exact
 * (an `exact` encoding, or none of that name).
 *
 * @example
 * ```ts ignore
 * lossyEncodingOf(t, "int8")?.params; // { scheme: "symmetric", group: 4096, scale: "F16" }
 * ```
 */
export function lossyEncodingOf(t: TensorEntry, name: string): LossyEncoding | null {
  for (const e of t.encodings) {
    if ((e as { name?: string }).name === name && isLossy(e)) return e as unknown as LossyEncoding;
  }
  return null;
}
