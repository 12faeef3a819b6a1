/**
 * The schema of the model manifest (see manifest.ts), in zod. A module of its own so that the
 * client loads zod only when it reads a manifest: evaluating zod cost every process that imports
 * the client 37 ms of CPU (perf stat, 8 alternating runs against an empty script), and the
 * compressed transport of a single-file model never reads a manifest. Browser-safe.
 * @module
 */
import { z } from "zod";
import { DTYPES } from "../../codec/dtype.ts";

const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const hex256 = z.string().regex(/^[0-9a-f]{64}$/);

/** One tensor as the manifest lists it. */
export const manifestTensorSchema = z.object({
  name: z.string(),
  file: z.string().optional(),
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

const containerSchema = z.object({
  url: z.string(),
  headLength: uint.optional(),
  sha256: hex256.optional(),
  size: uint.optional(),
});

/** One file of the revision. */
export const manifestFileSchema = z.object({
  path: z.string(),
  size: uint,
  sha256: hex256,
  container: containerSchema.optional(),
});

/** The whole manifest. Fields the client does not use are dropped, unknown ones ignored. */
export const manifestSchema = z.object({
  id: z.string(),
  revision: z.string(),
  commit: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  files: z.array(manifestFileSchema).optional(),
  sha256: hex256.optional(),
  size: uint.optional(),
  containerSize: uint.optional(),
  mode: z.string().optional(),
  metadata: z.record(z.string()).nullable().optional(),
  layers: z.array(manifestLayerSchema),
  tensors: z.array(manifestTensorSchema),
  container: containerSchema.nullable().optional(),
});

/** A validated manifest. */
export type Manifest = z.infer<typeof manifestSchema>;
/** One tensor of a manifest. */
export type ManifestTensor = z.infer<typeof manifestTensorSchema>;
/** One file of a manifest. */
export type ManifestFile = z.infer<typeof manifestFileSchema>;
