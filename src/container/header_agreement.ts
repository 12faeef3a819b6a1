/**
 * The index must agree with the stored original header: the header is what a client that unpacks
 * the file (or reads the virtual `model.safetensors`) sees, and the index is what the server serves
 * tensors by. An index rewritten with its head SHA-256 recomputed (a tensor renamed to `""`, a shape
 * or dtype changed) passes every index check, so the two are compared. Pure and browser-safe: the
 * header is parsed by the one safetensors parser (src/safetensors/parse.ts).
 * @module
 */
import { parseHeader } from "../safetensors/parse.ts";
import { SafetensorsError } from "../safetensors/errors.ts";
import { ContainerError } from "./errors.ts";
import type { Index } from "./index_schema.ts";

/**
 * Checks that `headerBytes`, the N original header bytes (already checked against
 * `index.source.header.sha256`), parse as a valid safetensors header for a file of
 * `index.source.size` bytes and list exactly the index's tensors, each with the same dtype, shape
 * and data offsets, and the same `__metadata__`. Throws a `header_mismatch` ContainerError naming
 * the first disagreement.
 *
 * @example
 * ```ts
 * checkHeaderAgreement(container.index, await readOriginalHeader(container));
 * ```
 */
export function checkHeaderAgreement(index: Index, headerBytes: Uint8Array): void {
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

function mismatch(message: string, cause?: unknown): never {
  throw new ContainerError("header_mismatch", message, cause ? { cause } : undefined);
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
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
