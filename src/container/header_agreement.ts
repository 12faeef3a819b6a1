/**
 * The index must agree with the stored original header: the header is what a client that unpacks
 * the file (or reads the virtual `model.safetensors`) sees, and the index is what the server serves
 * tensors by. An index rewritten with its head SHA-256 recomputed (a tensor renamed to `""`, a shape
 * or dtype changed) passes every index check, so the two are compared when a container is opened.
 * Pure and browser-safe.
 *
 * Two checks decide the same thing. {@link checkHeaderAgreement} runs on every open: `JSON.parse`,
 * the index's repeated-member scan, and a comparison of each member with the already validated
 * index, which makes the safetensors rules (known dtypes, sizes, contiguous offsets, the data
 * length) follow from the index's own. On human-fp32.bf16 (1,184 tensors, 147 KB header) it costs
 * about a fifth of {@link strictHeaderAgreement}, which parses with the one safetensors parser
 * (src/safetensors/parse.ts, strict JSON) and then compares; the strict one runs only to name a
 * disagreement the quick one found, and the fuzzer checks that both always agree.
 * @module
 */
import { parseHeader } from "../safetensors/parse.ts";
import { SafetensorsError } from "../safetensors/errors.ts";
import { repeatedMemberName } from "./duplicate_keys.ts";
import { ContainerError } from "./errors.ts";
import { type Index, strictUtf8, type TensorEntry, tensorsByName } from "./index_schema.ts";

const METADATA_KEY = "__metadata__";

/**
 * Checks that `headerBytes`, the N original header bytes (already checked against
 * `index.source.header.sha256`), are a valid safetensors header for a file of `index.source.size`
 * bytes that lists exactly the index's tensors, each with the same dtype, shape and data offsets,
 * and the same `__metadata__`. Throws a `header_mismatch` ContainerError naming the first
 * disagreement. `byName` is the index's tensors by name, when the caller has built that map.
 *
 * @example
 * ```ts ignore
 * checkHeaderAgreement(index, headerBytes); // throws ContainerError "header_mismatch"
 * ```
 */
export function checkHeaderAgreement(
  index: Index,
  headerBytes: Uint8Array,
  byName: ReadonlyMap<string, TensorEntry> = tensorsByName(index),
): void {
  const problem = quickDisagreement(index, headerBytes, byName);
  if (problem === null) return;
  // Name it as precisely as the strict parser can; if that finds nothing, the quick reason stands.
  strictHeaderAgreement(index, headerBytes);
  mismatch(problem);
}

/**
 * The reference form of {@link checkHeaderAgreement}: the header parsed by the strict safetensors
 * parser, then compared with the index. Slower; exported for the fuzzer's comparison.
 */
export function strictHeaderAgreement(index: Index, headerBytes: Uint8Array): void {
  let header;
  try {
    header = parseHeader(headerBytes, index.source.size);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    mismatch(`the stored original header is not a valid safetensors header: ${e.message}`, e);
  }
  if (header.tensors.length !== index.tensors.length) {
    mismatch(
      `the original header lists ${header.tensors.length} tensors, the index ` +
        `${index.tensors.length}`,
    );
  }
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  for (const t of index.tensors) {
    const h = byName.get(t.name);
    const label = `tensor ${JSON.stringify(t.name)}`;
    if (h === undefined) mismatch(`${label} of the index is not in the original header`);
    if (h.dtype !== t.dtype) {
      mismatch(`${label}: dtype ${t.dtype} in the index, ${h.dtype} in the original header`);
    }
    if (!sameList(h.shape, t.shape)) {
      mismatch(
        `${label}: shape [${t.shape}] in the index, [${h.shape}] in the original header`,
      );
    }
    if (h.begin !== t.offsets[0] || h.end !== t.offsets[1]) {
      mismatch(
        `${label}: offsets [${t.offsets}] in the index, [${h.begin},${h.end}] in the original ` +
          "header",
      );
    }
  }
  if (!sameMetadata(index.metadata, header.metadata)) {
    mismatch("__metadata__ differs between the index and the original header");
  }
}

/**
 * Why `bytes` do not agree with `index`, or null when they do. Exactly the strict parser's verdict
 * followed by the comparison, because each rule of parseHeader either is checked here or follows
 * from the index's validation once every member equals the index's: the text is UTF-8, starts with
 * `{` and ends with `}` and spaces only (JSON.parse then accepts exactly one object there), no
 * member name repeats (JSON.parse keeps the last), every entry has exactly the three keys, and a
 * dtype, shape or offsets equal to a validated index entry is known, non-negative, sized and, over
 * all tensors, contiguous up to `source.size` (index rules 4, 5 and 10). Nesting deeper than the
 * strict parser's limit can only sit inside an entry, which then is not equal to the index's.
 */
function quickDisagreement(
  index: Index,
  bytes: Uint8Array,
  byName: ReadonlyMap<string, TensorEntry>,
): string | null {
  // Rule 10 ties the data section's length to N: another N cannot describe the same tensors.
  if (bytes.length !== index.source.header.length) {
    return `${bytes.length} bytes, the index says ${index.source.header.length}`;
  }
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x20) end--;
  if (bytes[0] !== 0x7b || bytes[end - 1] !== 0x7d) return "not one JSON object padded by spaces";
  let text: string, root: unknown;
  try {
    text = strictUtf8(bytes);
    root = JSON.parse(text);
  } catch (e) {
    return `not UTF-8 JSON: ${(e as Error).message}`;
  }
  if (!isRecord(root)) return "not a JSON object";
  const names = Object.keys(root);
  const tensorCount = names.length - (Object.hasOwn(root, METADATA_KEY) ? 1 : 0);
  if (tensorCount !== index.tensors.length) {
    return `${tensorCount} tensors, the index ${index.tensors.length}`;
  }
  // An indexed loop: this runs once per process, unoptimised, where `for...of` allocates per element.
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name === METADATA_KEY) continue;
    const t = byName.get(name), e = root[name];
    if (t === undefined) return `tensor ${JSON.stringify(name)} is not in the index`;
    if (!isRecord(e) || !sameEntry(e, t)) return `tensor ${JSON.stringify(name)} differs`;
  }
  if (Object.hasOwn(root, METADATA_KEY)) {
    const metadata = root[METADATA_KEY];
    if (!isRecord(metadata) || index.metadata === null) return "__metadata__ differs";
    const keys = Object.keys(metadata);
    if (keys.length !== Object.keys(index.metadata).length) return "__metadata__ differs";
    for (const k of keys) {
      if (!Object.hasOwn(index.metadata, k) || metadata[k] !== index.metadata[k]) {
        return "__metadata__ differs";
      }
    }
  } else if (index.metadata !== null) {
    return "__metadata__ is missing";
  }
  // Last, as it reads the whole text again: a repeated name hides a member from JSON.parse.
  const repeated = repeatedMemberName(text, root);
  return repeated === null ? null : `member name ${JSON.stringify(repeated)} appears twice`;
}

function sameEntry(e: Record<string, unknown>, t: TensorEntry): boolean {
  let members = 0;
  for (const _ in e) members++;
  if (members !== 3) return false;
  const { dtype, shape, data_offsets: offsets } = e;
  return dtype === t.dtype && Array.isArray(shape) && sameList(shape, t.shape) &&
    Array.isArray(offsets) && sameList(offsets, t.offsets);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function mismatch(message: string, cause?: unknown): never {
  throw new ContainerError("header_mismatch", message, cause ? { cause } : undefined);
}

function sameList(a: readonly unknown[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameMetadata(
  a: Readonly<Record<string, string>> | null,
  b: Readonly<Record<string, string>> | null,
): boolean {
  if (a === null || b === null) return a === b;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (!Object.hasOwn(b, k) || a[k] !== b[k]) return false;
  return true;
}
