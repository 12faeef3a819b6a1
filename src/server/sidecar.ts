/**
 * Sidecar files (config.json, tokenizer files, …) as representations.
 * @module
 */
import { hashedBytesRepresentation, type Representation } from "../http/representation.ts";
import { fileNotFound } from "../store/errors.ts";
import type { RevisionRef } from "../store/layout.ts";
import type { ModelStore } from "../store/model_store.ts";

/** Content type of a sidecar by extension. */
export function sidecarType(file: string): string {
  if (file.endsWith(".json")) return "application/json; charset=utf-8";
  if (file.endsWith(".md")) return "text/markdown; charset=utf-8";
  return "text/plain; charset=utf-8";
}

/**
 * Sidecar `file` of `ref`, read whole (sidecars are small). ETag and Repr-Digest are its SHA-256.
 *
 * @example
 * ```ts
 * await sidecarRepresentation(store, ref, "config.json");
 * ```
 */
export async function sidecarRepresentation(
  store: ModelStore,
  ref: RevisionRef,
  file: string,
  headers: Record<string, string> = {},
): Promise<Representation> {
  const path = store.sidecarPath(ref, file);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory) {
      throw fileNotFound(ref, file);
    }
    throw e;
  }
  return hashedBytesRepresentation(bytes, sidecarType(file), headers);
}
