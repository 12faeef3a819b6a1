/**
 * The model manifest the server publishes at `/v1/models/{org}/{name}/manifest`: its schema, the
 * checks a schema cannot express, and the fetch. Browser-safe.
 *
 * A manifest describes a repo revision: `files` (every file; safetensors files with their
 * `container`), `tensors` (every tensor of every safetensors file, each with its `file`) and
 * `layers` in load order across shards. A tensor is identified by its file and name: two models
 * in subfolders may hold the same names (their layer keys are prefixed with the folder). A
 * revision with one safetensors file also has that file's `sha256`, `size` and `container` at
 * the top level.
 * @module
 */
import { dtypeWidth } from "../../codec/dtype.ts";
import { ClientError } from "./errors.ts";
import { type Fetch, request } from "./http.ts";
import { apiUrl, type ModelRef } from "./model_url.ts";
import type { Manifest, ManifestTensor } from "./manifest_schema.ts";

export type { Manifest, ManifestFile, ManifestTensor } from "./manifest_schema.ts";

/** What identifies a tensor in a manifest: its layer (unique per model folder) and its name. */
const tensorKey = (layer: string, name: string) => `${layer}\0${name}`;

/**
 * Validates manifest JSON: the schema, then that every tensor's byte count matches its shape and
 * dtype, and that the layers list every tensor exactly once.
 */
export async function parseManifest(json: unknown): Promise<Manifest> {
  const { manifestSchema } = await import("./manifest_schema.ts");
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ClientError(
      "bad_response",
      `manifest field ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  const m = parsed.data;
  const files = new Map((m.files ?? []).map((f) => [f.path, f]));
  const byKey = new Map<string, ManifestTensor>();
  for (const t of m.tensors) {
    const key = tensorKey(t.layer, t.name);
    if (byKey.has(key)) fail(`tensor "${t.name}" appears twice in layer "${t.layer}"`);
    byKey.set(key, t);
    if (t.file !== undefined && m.files && !files.get(t.file)?.container) {
      fail(`tensor "${t.name}" names file "${t.file}", which is not a safetensors file listed`);
    }
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const bytes = elements * dtypeWidth(t.dtype);
    if (bytes !== t.rawBytes || t.offsets[1] - t.offsets[0] !== bytes) {
      fail(
        `tensor "${t.name}": shape ${JSON.stringify(t.shape)} ${t.dtype} is ${bytes} bytes, ` +
          `manifest says ${t.rawBytes} at ${t.offsets.join("-")}`,
      );
    }
  }
  const seen = new Set<string>();
  for (const layer of m.layers) {
    for (const name of layer.tensors) {
      const key = tensorKey(layer.key, name);
      if (!byKey.has(key)) fail(`layer "${layer.key}" lists unknown tensor "${name}"`);
      if (seen.has(key)) fail(`tensor "${name}" is listed twice in layer "${layer.key}"`);
      seen.add(key);
    }
  }
  if (seen.size !== byKey.size) {
    fail(`layers list ${seen.size} tensors, the manifest has ${byKey.size}`);
  }
  return m;
}

function fail(message: string): never {
  throw new ClientError("bad_response", `manifest: ${message}`);
}

/** Fetches and validates the manifest of `ref`. */
export async function fetchManifest(
  fetchFn: Fetch,
  ref: ModelRef,
  signal?: AbortSignal,
): Promise<Manifest> {
  const url = apiUrl(ref, "/manifest");
  const res = await request(fetchFn, url, { signal, headers: { Accept: "application/json" } });
  let json: unknown;
  try {
    json = await res.json();
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    throw new ClientError("bad_response", `GET ${url}: body is not JSON: ${(e as Error).message}`);
  }
  return await parseManifest(json);
}

/** Tensors of `m` in load order: layer by layer, in the order each layer lists them. */
export function loadOrder(m: Manifest): ManifestTensor[] {
  const byKey = new Map(m.tensors.map((t) => [tensorKey(t.layer, t.name), t]));
  return m.layers.flatMap((l) => l.tensors.map((name) => byKey.get(tensorKey(l.key, name))!));
}

/** A manifest of a revision with exactly one safetensors file, whose fields are at the top. */
export type SingleFileManifest = Manifest & { readonly sha256: string; readonly size: number };

/**
 * `m` when its revision has one safetensors file; otherwise a `bad_response` error naming the
 * files, for callers that fetch one file (pull).
 */
export function singleFile(m: Manifest): SingleFileManifest {
  if (m.sha256 !== undefined && m.size !== undefined) return m as SingleFileManifest;
  const models = (m.files ?? []).filter((f) => f.container).map((f) => f.path);
  throw new ClientError(
    "bad_response",
    `${m.id}@${m.revision} has ${models.length} safetensors files (${models.join(", ")}), ` +
      "not one; fetch them by path",
  );
}
