/**
 * Zod schemas of every JSON body the server sends or accepts. Handlers build bodies through them
 * and `/openapi.json` is generated from them, so the document cannot drift from the code.
 * @module
 */
import { z } from "zod";
import { DTYPES } from "../../codec/dtype.ts";

const uint = z.number().int().nonnegative();
const hex256 = z.string().regex(/^[0-9a-f]{64}$/).describe("lower-case hex SHA-256");
const hex40 = z.string().regex(/^[0-9a-f]{40}$/);

/** Every error response. */
export const errorSchema = z.object({
  error: z.string().describe("machine-readable kind, e.g. bad_name, model_not_found, bad_slice"),
  message: z.string().describe("what was expected and what was received"),
}).describe("Error");

/** `GET /healthz`. */
export const healthSchema = z.object({
  status: z.literal("ok"),
  uptimeSeconds: z.number(),
  openContainers: uint,
  workers: uint,
}).describe("Health");

/** One model of `GET /v1/models`. */
export const modelListingSchema = z.object({
  id: z.string().describe("org/name"),
  revisions: z.array(z.string()),
}).describe("ModelListing");

/** `GET /v1/models`. */
export const modelListSchema = z.object({ models: z.array(modelListingSchema) }).describe(
  "ModelList",
);

/** One tensor of a manifest. */
export const manifestTensorSchema = z.object({
  name: z.string(),
  dtype: z.enum(DTYPES),
  shape: z.array(uint),
  layer: z.string(),
  offsets: z.tuple([uint, uint]).describe("[begin, end) within the original data section"),
  rawBytes: uint,
  storedBytes: uint.describe("bytes of its chunks in the container"),
  sha256: hex256,
  tile: z.tuple([uint, uint]).describe("[tileRows, tileCols] of the matrix view"),
  chunks: uint,
}).describe("ManifestTensor");

/** One layer of a manifest. */
export const manifestLayerSchema = z.object({
  key: z.string(),
  tensors: z.array(z.string()).describe("names, in file order"),
  rawBytes: uint,
}).describe("ManifestLayer");

/** `GET /v1/models/{org}/{name}/manifest`. */
export const manifestSchema = z.object({
  id: z.string(),
  revision: z.string(),
  commit: hex40.describe("the revision's commit id, as X-Repo-Commit"),
  sha256: hex256.describe("SHA-256 of the original safetensors file"),
  size: uint.describe("size of the original safetensors file"),
  containerSize: uint,
  containerSha256: hex256,
  mode: z.enum(["fast", "best"]),
  metadata: z.record(z.string()).nullable(),
  layers: z.array(manifestLayerSchema).describe("in load order"),
  tensors: z.array(manifestTensorSchema).describe("in file order"),
  container: z.object({
    url: z.string().describe("path of the raw container, relative to the server"),
    headLength: z.literal(64),
    etag: z.string(),
  }),
  files: z.array(z.object({ name: z.string(), size: uint, sha256: hex256 })).describe(
    "sidecar files",
  ),
}).describe("Manifest");

/** `PUT /v1/models/{org}/{name}`. */
export const publishResultSchema = z.object({
  id: z.string(),
  revision: z.string(),
  created: z.boolean(),
  sha256: hex256,
  size: uint,
  containerSha256: hex256,
  containerSize: uint,
}).describe("PublishResult");

/** `PUT /v1/models/{org}/{name}/files/{file}`. */
export const sidecarResultSchema = z.object({
  id: z.string(),
  revision: z.string(),
  file: z.string(),
  created: z.boolean(),
  size: uint,
  sha256: hex256,
}).describe("SidecarResult");

/** A sibling of Hugging Face's model info. */
export const hfSiblingSchema = z.object({
  rfilename: z.string(),
  size: uint.optional(),
  blobId: z.string().optional(),
  lfs: z.object({ sha256: hex256, size: uint, pointerSize: uint }).optional(),
}).describe("HfSibling");

/** `GET /api/models/{org}/{name}[/revision/{rev}]`, the subset of Hugging Face's fields served. */
export const hfModelInfoSchema = z.object({
  _id: z.string(),
  id: z.string(),
  modelId: z.string(),
  author: z.string(),
  sha: hex40,
  lastModified: z.string(),
  createdAt: z.string(),
  private: z.literal(false),
  disabled: z.literal(false),
  gated: z.literal(false),
  downloads: uint,
  likes: uint,
  tags: z.array(z.string()),
  library_name: z.string().optional(),
  pipeline_tag: z.string().optional(),
  config: z.record(z.unknown()).optional(),
  siblings: z.array(hfSiblingSchema),
  safetensors: z.object({ parameters: z.record(uint), total: uint }),
  usedStorage: uint,
}).describe("HfModelInfo");

/** One entry of `GET /api/models/{org}/{name}/tree/{rev}`. */
export const hfTreeEntrySchema = z.object({
  type: z.literal("file"),
  oid: hex40.describe("git blob id"),
  size: uint,
  path: z.string(),
  lfs: z.object({ oid: hex256, size: uint, pointerSize: uint }).optional(),
}).describe("HfTreeEntry");
