/**
 * The many-tensor model of `bench:transfer`: a BF16 safetensors file of at least 3,000 tensors and
 * 300 MB, built from the real BF16 tensors of `../shared/data`, never committed. The recipe:
 *
 * 1. Sources: every `*.bf16.safetensors` of the data folder (a face-analysis CNN, an OCR CNN and a
 *    tiny Llama), tensors in file order, empty ones dropped. They fall into three pools:
 *    - small (< 4 KiB: norms, biases, scalars), copied whole with their shapes;
 *    - mid (4-64 KiB: small convolutions and matrices), copied whole with their shapes;
 *    - a stream: the bytes of every tensor of 64 KiB or more, concatenated (about 20 MB of real
 *      convolution and dense weights).
 * 2. Layout, Llama-like names so that layers group and order as in an LLM:
 *    `model.embed_tokens.weight` [8192, 512], then blocks `model.layers.{b}` of
 *    {@link SMALL_PER_BLOCK} small tensors (`norm{i}.weight` / `norm{i}.bias`),
 *    {@link MID_PER_BLOCK} mid ones (`conv{i}.weight`) and one medium matrix of each shape of
 *    {@link MEDIUM_SHAPES} (`proj{i}.weight`, 0.3-2 MiB), then `model.norm.weight` and
 *    `lm_head.weight` [8192, 512]. Blocks are added until both the tensor count and the size are
 *    reached (by default 49 blocks: 3,041 tensors, about 325 MB).
 * 3. Small and mid tensors take the next tensor of their pool, cyclically; the embedding, the head
 *    and the medium matrices take the next bytes of the stream, cyclically.
 *
 * Repeats are therefore far apart: the stream repeats every ~20 MB and the small and mid pools
 * every several blocks (megabytes), beyond the 2 MiB window of `zstd -3`, so the zstd baseline
 * gains nothing from the copying. Same inputs, same file, byte for byte.
 * @module
 */
import { createHash } from "node:crypto";
import { decodeHeaderLength, parseHeader } from "../../src/safetensors/parse.ts";

/** Small tensors per block. */
export const SMALL_PER_BLOCK = 36;
/** Mid-size tensors per block. */
export const MID_PER_BLOCK = 20;
/** Shapes of each block's medium matrices (BF16). */
export const MEDIUM_SHAPES: readonly (readonly number[])[] = [
  [1024, 1024],
  [1024, 512],
  [512, 1024],
  [768, 768],
  [256, 1024],
  [128, 128, 3, 3],
];
const EMBED_SHAPE = [8192, 512];
const SMALL_MAX = 4 << 10;
const MID_MAX = 64 << 10;

/** What was built. */
export interface SyntheticModel {
  /** Path of the safetensors file. */
  readonly path: string;
  /** File size in bytes. */
  readonly size: number;
  /** SHA-256 hex of the file. */
  readonly sha256: string;
  /** Tensors in it. */
  readonly tensors: number;
  /** Blocks (`model.layers.{b}`). */
  readonly blocks: number;
  /** Tensors by size class. */
  readonly counts: { small: number; mid: number; medium: number };
  /** Source files used. */
  readonly sources: string[];
}

/** Options for {@link buildSyntheticModel}. */
export interface SyntheticOptions {
  /** Folder with the real `*.bf16.safetensors` files. */
  readonly dataDir: string;
  /** Output path. */
  readonly out: string;
  /** At least this many tensors; 3,000 by default. */
  readonly minTensors?: number;
  /** At least this many bytes; 300 MB by default. */
  readonly minBytes?: number;
}

interface Planned {
  readonly name: string;
  readonly shape: readonly number[];
  readonly bytes: number;
  /** Where the bytes come from: a pooled tensor's bytes, or `bytes` of the stream. */
  readonly data: Uint8Array | "stream";
}

const sizeOf = (shape: readonly number[]) => 2 * shape.reduce((a, b) => a * b, 1);

/** The BF16 tensors of `path` in file order, as [shape, bytes]. */
async function bf16Tensors(path: string): Promise<[number[], Uint8Array][]> {
  const file = await Deno.readFile(path);
  const n = decodeHeaderLength(file.subarray(0, 8), file.length);
  const header = parseHeader(file.subarray(8, 8 + n), file.length);
  return header.tensors
    .filter((t) => t.dtype === "BF16" && t.end > t.begin)
    .map((t) => [t.shape, file.subarray(header.dataStart + t.begin, header.dataStart + t.end)]);
}

/** The tensor list of the recipe, for the given pools. */
function plan(
  small: Uint8Array[],
  mid: Uint8Array[],
  minTensors: number,
  minBytes: number,
  shapes: { small: number[][]; mid: number[][] },
): { tensors: Planned[]; blocks: number } {
  const tensors: Planned[] = [
    {
      name: "model.embed_tokens.weight",
      shape: EMBED_SHAPE,
      bytes: sizeOf(EMBED_SHAPE),
      data: "stream",
    },
  ];
  const tail = (s: number): Planned[] => [
    {
      name: "model.norm.weight",
      shape: shapes.small[s % small.length],
      bytes: small[s % small.length].length,
      data: small[s % small.length],
    },
    { name: "lm_head.weight", shape: EMBED_SHAPE, bytes: sizeOf(EMBED_SHAPE), data: "stream" },
  ];
  let s = 0, m = 0, blocks = 0, bytes = tensors[0].bytes;
  const total = () => bytes + tail(s).reduce((a, t) => a + t.bytes, 0);
  while (tensors.length + 2 < minTensors || total() < minBytes) {
    const p = `model.layers.${blocks}`;
    for (let i = 0; i < SMALL_PER_BLOCK; i++, s++) {
      const k = s % small.length;
      const name = `${p}.norm${i >> 1}.${i % 2 === 0 ? "weight" : "bias"}`;
      tensors.push({ name, shape: shapes.small[k], bytes: small[k].length, data: small[k] });
    }
    for (let i = 0; i < MID_PER_BLOCK; i++, m++) {
      const k = m % mid.length;
      tensors.push({
        name: `${p}.conv${i}.weight`,
        shape: shapes.mid[k],
        bytes: mid[k].length,
        data: mid[k],
      });
    }
    MEDIUM_SHAPES.forEach((shape, i) =>
      tensors.push({ name: `${p}.proj${i}.weight`, shape, bytes: sizeOf(shape), data: "stream" })
    );
    bytes = tensors.reduce((a, t) => a + t.bytes, 0);
    blocks++;
  }
  tensors.push(...tail(s));
  return { tensors, blocks };
}

/**
 * Builds the model described in the module doc at `options.out` (written whole, then renamed).
 *
 * @example
 * ```ts ignore
 * import { buildSyntheticModel } from "./synthetic_model.ts";
 * const m = await buildSyntheticModel({ dataDir: "../shared/data", out: "/dev/shm/many.safetensors" });
 * console.log(m.tensors, m.size, m.sha256);
 * ```
 */
export async function buildSyntheticModel(options: SyntheticOptions): Promise<SyntheticModel> {
  const minTensors = options.minTensors ?? 3000, minBytes = options.minBytes ?? 300e6;
  const sources: string[] = [];
  for await (const e of Deno.readDir(options.dataDir)) {
    if (e.isFile && e.name.endsWith(".bf16.safetensors")) sources.push(e.name);
  }
  sources.sort();
  if (sources.length === 0) throw new Error(`no *.bf16.safetensors in ${options.dataDir}`);
  const small: Uint8Array[] = [], mid: Uint8Array[] = [], streamParts: Uint8Array[] = [];
  const shapes = { small: [] as number[][], mid: [] as number[][] };
  for (const name of sources) {
    for (const [shape, bytes] of await bf16Tensors(`${options.dataDir}/${name}`)) {
      if (bytes.length < SMALL_MAX) small.push(bytes), shapes.small.push(shape);
      else if (bytes.length < MID_MAX) mid.push(bytes), shapes.mid.push(shape);
      else streamParts.push(bytes);
    }
  }
  if (small.length === 0 || mid.length === 0 || streamParts.length === 0) {
    throw new Error(`${options.dataDir}: the BF16 files lack small, mid or large tensors`);
  }
  const stream = new Uint8Array(streamParts.reduce((a, p) => a + p.length, 0));
  streamParts.reduce((off, p) => (stream.set(p, off), off + p.length), 0);
  const { tensors, blocks } = plan(small, mid, minTensors, minBytes, shapes);

  const entries: string[] = [];
  let off = 0;
  for (const t of tensors) {
    entries.push(
      `${JSON.stringify(t.name)}:{"dtype":"BF16","shape":${JSON.stringify(t.shape)},` +
        `"data_offsets":[${off},${off + t.bytes}]}`,
    );
    off += t.bytes;
  }
  let json = `{"__metadata__":{"format":"pt","note":"tessera bench:transfer synthetic ` +
    `many-tensor model, recipe in bench/transfer/synthetic_model.ts"},${entries.join(",")}}`;
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const header = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);

  const hash = createHash("sha256");
  const tmp = `${options.out}.tmp`;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
  const write = async (bytes: Uint8Array) => {
    hash.update(bytes);
    for (let n = 0; n < bytes.length;) n += await f.write(bytes.subarray(n));
  };
  try {
    await write(prefix);
    await write(header);
    let at = 0; // position in the stream, always even (whole BF16 elements)
    for (const t of tensors) {
      if (t.data !== "stream") {
        await write(t.data);
        continue;
      }
      for (let left = t.bytes; left > 0;) {
        const n = Math.min(left, stream.length - at);
        await write(stream.subarray(at, at + n));
        left -= n;
        at = (at + n) % stream.length;
      }
    }
  } finally {
    f.close();
  }
  await Deno.rename(tmp, options.out);
  const count = (pred: (t: Planned) => boolean) => tensors.filter(pred).length;
  return {
    path: options.out,
    size: 8 + header.length + off,
    sha256: hash.digest("hex"),
    tensors: tensors.length,
    blocks,
    counts: {
      small: count((t) => t.data !== "stream" && t.bytes < SMALL_MAX),
      mid: count((t) => t.data !== "stream" && t.bytes >= SMALL_MAX),
      medium: count((t) => t.data === "stream"),
    },
    sources,
  };
}
