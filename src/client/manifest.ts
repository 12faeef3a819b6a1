/**
 * The model manifest the server publishes at `/v1/models/{org}/{name}/manifest`: its schema, the
 * checks a schema cannot express, and the fetch. Browser-safe.
 * @module
 */
import { z } from "zod";
import { DTYPES, dtypeWidth } from "../../codec/dtype.ts";
import { ClientError } from "./errors.ts";
import { type Fetch, request } from "./http.ts";
import { apiUrl, type ModelRef } from "./model_url.ts";

const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const hex256 = z.string().regex(/^[0-9a-f]{64}$/);

/** One tensor as the manifest lists it. */
export const manifestTensorSchema = z.object({
  name: z.string(),
  dtype: z.enum(DTYPES),
  shape: z.array(uint),
  layer: z.string(),
  offsets: z.tuple([uint, uint]),
  rawBytes: uint,
  storedBytes: uint.optional(),
  sha256: hex256,
  tile: z.tuple([uint, uint]).optional(),
});

/** One layer: its key and its tensors, in load order. */
export const manifestLayerSchema = z.object({
  key: z.string(),
  tensors: z.array(z.string()),
  rawBytes: uint.optional(),
});

/** The whole manifest. Fields the client does not use are dropped, unknown ones ignored. */
export const manifestSchema = z.object({
  id: z.string(),
  revision: z.string(),
  sha256: hex256,
  size: uint,
  containerSize: uint.optional(),
  mode: z.string().optional(),
  metadata: z.record(z.string()).nullable().optional(),
  layers: z.array(manifestLayerSchema),
  tensors: z.array(manifestTensorSchema),
  container: z.object({ url: z.string(), headLength: uint.optional() }).nullable().optional(),
});

/** A validated manifest. */
export type Manifest = z.infer<typeof manifestSchema>;
/** One tensor of a manifest. */
export type ManifestTensor = z.infer<typeof manifestTensorSchema>;

/**
 * Validates manifest JSON: the schema, then that every tensor's byte count matches its shape and
 * dtype, and that the layers list every tensor exactly once.
 */
export function parseManifest(json: unknown): Manifest {
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ClientError(
      "bad_response",
      `manifest field ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  const m = parsed.data;
  const byName = new Map<string, ManifestTensor>();
  for (const t of m.tensors) {
    if (byName.has(t.name)) fail(`tensor "${t.name}" appears twice`);
    byName.set(t.name, t);
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
      const t = byName.get(name);
      if (!t) fail(`layer "${layer.key}" lists unknown tensor "${name}"`);
      if (seen.has(name)) fail(`tensor "${name}" is listed in two layers`);
      if (t.layer !== layer.key) {
        fail(`tensor "${name}" says layer "${t.layer}", is listed under "${layer.key}"`);
      }
      seen.add(name);
    }
  }
  if (seen.size !== byName.size) {
    fail(`layers list ${seen.size} tensors, the manifest has ${byName.size}`);
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
  return parseManifest(json);
}

/** Tensors of `m` in load order: layer by layer, in the order each layer lists them. */
export function loadOrder(m: Manifest): ManifestTensor[] {
  const byName = new Map(m.tensors.map((t) => [t.name, t]));
  return m.layers.flatMap((l) => l.tensors.map((name) => byName.get(name)!));
}
