/**
 * Zod schemas of every JSON body the server sends or accepts. Handlers build bodies through them,
 * request bodies are validated by them, and `/openapi.json` is generated from them (each carries
 * its component name), so the document cannot drift from the code.
 * @module
 */
import { z } from "@hono/zod-openapi";
import { DTYPES } from "../../codec/dtype.ts";

const uint = z.number().int().nonnegative();
const hex256 = z.string().regex(/^[0-9a-f]{64}$/).describe("lower-case hex SHA-256");
const hex40 = z.string().regex(/^[0-9a-f]{40}$/);

/** Every error response. */
export const errorSchema = z.object({
  error: z.string().describe("machine-readable kind, e.g. bad_name, model_not_found, bad_slice"),
  message: z.string().describe("what was expected and what was received"),
}).openapi("Error");

/** `GET /healthz`. */
export const healthSchema = z.object({
  status: z.literal("ok"),
  uptimeSeconds: z.number(),
  openContainers: uint,
  workers: uint,
}).openapi("Health");

/** One model of `GET /v1/models`. */
export const modelListingSchema = z.object({
  id: z.string().describe("org/name"),
  revisions: z.array(z.string()).describe("branch names"),
}).openapi("ModelListing");

/** `GET /v1/models`. */
export const modelListSchema = z.object({ models: z.array(modelListingSchema) }).openapi(
  "ModelList",
);

/** How one variant stores one tensor, in a manifest. */
export const manifestTensorVariantSchema = z.object({
  name: z.string().describe("the variant"),
  kind: z.enum(["int8", "cast", "ternary", "lowrank", "sparse", "exact"]).describe(
    "how the variant stores the tensor; exact: its original bytes (from the lossless encoding)",
  ),
  storedBytes: uint.describe("bytes a reader of the variant fetches for this tensor"),
  ratio: z.number().describe("rawBytes / storedBytes"),
  relRmse: z.number().nullable().describe(
    "measured ‖W − W'‖ / ‖W‖ over the original's finite elements (0 for exact); null: not finite",
  ),
  maxAbs: z.number().nullable().describe("measured max |W − W'| (0 for exact); null: not finite"),
  sha256: hex256.describe("SHA-256 of the tensor's bytes under the variant (dequantised)"),
  reason: z.string().describe("why the variant stores it so"),
}).openapi("ManifestTensorVariant");

/** One tensor of a manifest. */
export const manifestTensorSchema = z.object({
  name: z.string(),
  file: z.string().describe("the repo file that holds it"),
  dtype: z.enum(DTYPES),
  shape: z.array(uint),
  layer: z.string().describe("key of its layer in `layers`"),
  offsets: z.tuple([uint, uint]).describe("[begin, end) within its file's data section"),
  rawBytes: uint,
  storedBytes: uint.describe(
    "bytes of its lossless chunks in the container; 0 when the container holds only variants",
  ),
  sha256: hex256.describe(
    "SHA-256 of the bytes the tensor route serves in this revision: the original's, or in a " +
      "variant revision the variant's",
  ),
  tile: z.tuple([uint, uint]).optional().describe(
    "[tileRows, tileCols] of the matrix view; absent when the container holds only variants",
  ),
  chunks: uint,
  variants: z.array(manifestTensorVariantSchema).optional().describe(
    "every variant of its file, with its size and measured error; absent without variants",
  ),
}).openapi("ManifestTensor");

/** One variant of a revision, in a manifest: its revision and the manager's statistics. */
export const manifestVariantSchema = z.object({
  name: z.string(),
  revision: z.string().describe(
    "the variant revision (<revision>@<variant>): its safetensors files hold the variant's " +
      "tensors dequantised, for any Hugging Face client",
  ),
  commit: hex40.describe("the variant revision's commit id (derived, not stored)"),
  files: z.array(z.object({ path: z.string(), size: uint, sha256: hex256 })).describe(
    "the safetensors files that hold the variant, with the SHA-256 of the variant's file",
  ),
  tensors: uint,
  lossyTensors: uint,
  kinds: z.record(uint).describe("tensors by how the variant stores them (exact: lossless)"),
  rawBytes: uint,
  storedBytes: uint.describe("bytes a reader of the variant fetches (compressed transport)"),
  losslessBytes: uint.nullable().describe("stored lossless bytes; null in a variant-only model"),
  ratio: z.number().describe("rawBytes / storedBytes"),
  averageRatio: z.number().describe("mean over lossy tensors of raw / stored bytes"),
  savedBytes: z.number().int().describe("rawBytes - storedBytes: memory saved"),
  deriveMs: z.number(),
  deriveMsPerTensor: z.number(),
  decodeMs: z.number().describe("ms to decode the lossy tensors once, one thread, at derive"),
  decodeMsPerTensor: z.number(),
}).openapi("ManifestVariant");

/** One layer of a manifest. */
export const manifestLayerSchema = z.object({
  key: z.string().describe(
    "the layer key of its tensors; for a model in a subfolder, prefixed with the folder and /",
  ),
  tensors: z.array(z.string()).describe("names, in load order (which may span files)"),
  rawBytes: uint,
}).openapi("ManifestLayer");

/** The container of one safetensors file of a manifest. */
export const manifestContainerSchema = z.object({
  url: z.string().describe("path of the raw container, relative to the server, commit-addressed"),
  headLength: z.literal(64),
  etag: z.string(),
  sha256: hex256,
  size: uint,
});

/** One file of a manifest. */
export const manifestFileSchema = z.object({
  path: z.string(),
  size: uint,
  sha256: hex256,
  container: manifestContainerSchema.optional().describe("present for safetensors files"),
  mode: z.enum(["fast", "best"]).optional(),
  metadata: z.record(z.string()).nullable().optional(),
}).openapi("ManifestFile");

/** `GET /v1/models/{org}/{name}/manifest`. */
export const manifestSchema = z.object({
  id: z.string(),
  revision: z.string(),
  commit: hex40.describe("the revision's commit id, as X-Repo-Commit"),
  files: z.array(manifestFileSchema).describe("every file of the revision, sorted by path"),
  layers: z.array(manifestLayerSchema).describe(
    "in load order: the root model's layers across its shards, then each subfolder's",
  ),
  tensors: z.array(manifestTensorSchema).describe("every tensor of every safetensors file"),
  variant: z.string().optional().describe("in a variant revision: the variant it serves"),
  variants: z.array(manifestVariantSchema).describe(
    "the variants the revision's safetensors files hold, each also a revision",
  ),
  sha256: hex256.optional().describe("with exactly one safetensors file: its SHA-256"),
  size: uint.optional().describe("with exactly one safetensors file: its size"),
  containerSize: uint.optional(),
  containerSha256: hex256.optional(),
  mode: z.enum(["fast", "best"]).optional(),
  metadata: z.record(z.string()).nullable().optional(),
  container: manifestContainerSchema.optional().describe(
    "with exactly one safetensors file: its container",
  ),
}).openapi("Manifest");

/** `PUT /v1/models/{org}/{name}`. */
export const publishResultSchema = z.object({
  id: z.string(),
  revision: z.string(),
  commit: hex40,
  created: z.boolean().describe("whether the file is new in the branch"),
  sha256: hex256,
  size: uint,
  containerSha256: hex256,
  containerSize: uint,
}).openapi("PublishResult");

/** `PUT /v1/models/{org}/{name}/files/{path}`. */
export const fileResultSchema = z.object({
  id: z.string(),
  revision: z.string(),
  commit: hex40,
  file: z.string(),
  created: z.boolean(),
  size: uint,
  sha256: hex256,
  etag: z.string().describe("the ETag the file is now served with"),
}).openapi("FileResult");

/** `PUT /v1/models/{org}/{name}/uploads/{sha256}`. */
export const uploadResultSchema = z.object({
  sha256: hex256,
  size: uint,
  stored: z.enum(["container", "raw"]).describe(
    "container: a safetensors file, packed; raw: kept as it is",
  ),
  container: z.object({ sha256: hex256, size: uint }).optional(),
  existed: z.boolean().describe("whether the server already held it (nothing was stored)"),
}).openapi("UploadResult");

/** `POST /v1/models/{org}/{name}/commits`. */
export const commitRequestSchema = z.object({
  title: z.string().max(1000).default("Upload files").describe("first line of the message"),
  message: z.string().max(100_000).optional(),
  parentCommit: hex40.optional().describe(
    "the branch head this commit builds on: 412 if the branch has moved. For a new branch, " +
      "where it starts.",
  ),
  replace: z.boolean().default(false).describe(
    "true: the tree becomes exactly `files` (a folder push); false: the head's tree plus " +
      "`files` minus `deletes`",
  ),
  files: z.array(z.object({
    path: z.string().describe("path in the repo, / between folders"),
    sha256: hex256.describe("content uploaded before with PUT .../uploads/{sha256}"),
  })).max(100_000).default([]),
  deletes: z.array(z.string()).max(100_000).default([]),
}).openapi("CommitRequest");

/** Result of `POST /v1/models/{org}/{name}/commits`. */
export const commitResultSchema = z.object({
  id: z.string(),
  revision: z.string(),
  commit: hex40,
  parent: hex40.nullable(),
  created: z.boolean().describe("false when the tree was unchanged (no commit was made)"),
  files: uint.describe("files in the new tree"),
}).openapi("CommitResult");

/** A sibling of Hugging Face's model info. */
export const hfSiblingSchema = z.object({
  rfilename: z.string(),
  size: uint.optional(),
  blobId: z.string().optional(),
  lfs: z.object({ sha256: hex256, size: uint, pointerSize: uint }).optional(),
}).openapi("HfSibling");

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
  safetensors: z.object({ parameters: z.record(uint), total: uint }).optional(),
  usedStorage: uint,
}).openapi("HfModelInfo");

const lastCommit = z.object({ id: hex40, title: z.string(), date: z.string() });

/** One entry of the tree and of `paths-info`. */
export const hfTreeEntrySchema = z.object({
  type: z.enum(["file", "directory"]),
  oid: hex40.describe("git blob id (file) or tree id (directory)"),
  size: uint.describe("the file's size (0 for a directory)"),
  path: z.string(),
  lfs: z.object({ oid: hex256, size: uint, pointerSize: uint }).optional(),
  lastCommit: lastCommit.optional().describe("with expand=true"),
}).openapi("HfTreeEntry");

/** `POST /api/models/{org}/{name}/paths-info/{revision}` body (JSON or form). */
export const hfPathsInfoRequestSchema = z.object({
  paths: z.union([z.array(z.string()), z.string()]).describe("paths to describe"),
  expand: z.union([z.boolean(), z.string()]).optional().describe("true: add lastCommit"),
}).openapi("HfPathsInfoRequest");

const gitRef = z.object({ name: z.string(), ref: z.string(), targetCommit: hex40 });

/** `GET /api/models/{org}/{name}/refs`. */
export const hfRefsSchema = z.object({
  branches: z.array(gitRef),
  converts: z.array(gitRef),
  tags: z.array(gitRef),
  pullRequests: z.array(gitRef).optional().describe("with include_prs=1"),
}).openapi("HfRefs");

/** One commit of `GET /api/models/{org}/{name}/commits/{revision}`. */
export const hfCommitSchema = z.object({
  id: hex40,
  title: z.string(),
  message: z.string(),
  authors: z.array(z.object({ user: z.string(), avatar: z.string() })),
  date: z.string(),
}).openapi("HfCommit");
