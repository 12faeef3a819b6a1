/**
 * Seed inputs for the fuzzer and the sanitizer driver: known-answer containers, small containers
 * packed here from fixtures in both modes (every plane codec, column tiles, zero-size and scalar
 * tensors), the real stories260k fixture, and every chunk of them with its decoded bytes.
 * @module
 */
import { decodeChunk } from "../../codec/chunk_decode.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { openContainer } from "../../src/container/open.ts";
import { bufferSource } from "../../src/container/source.ts";
import { readVariantRegion } from "../../src/container/variant_read.ts";
import { type PackOptions, packReader } from "../../src/pack/write.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { nativeZstdDecompress } from "../../src/codec_native/zstd.ts";
import { bufferReader } from "../../src/io/random_access.ts";
import { normalBf16, Rng } from "../codec/prng.ts";
import { buildSafetensors, type FixtureTensor } from "../safetensors/fixture.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);

/** A container and the safetensors file it holds. */
export interface SeedContainer {
  /** Where it came from. */
  readonly name: string;
  /** The container's bytes. */
  readonly bytes: Uint8Array;
  /** The original safetensors bytes. */
  readonly source: Uint8Array;
  /** Each variant of each tensor, decoded whole, by `tensor\0variant`. */
  readonly variants?: ReadonlyMap<string, Uint8Array>;
}

/** One stored chunk with what it must decode to. */
export interface SeedChunk {
  /** Container and tensor it came from, for messages. */
  readonly from: string;
  /** The stored bytes. */
  readonly stored: Uint8Array;
  /** Its index record. */
  readonly entry: {
    readonly storedLength: number;
    readonly rawLength: number;
    readonly storedXxh32: number;
    readonly rawXxh32: number;
  };
  /** Plane layout. */
  readonly layout: {
    readonly width: number;
    readonly signMoved: boolean;
    readonly packing?: "int4";
  };
  /** The decoded tile. */
  readonly raw: Uint8Array;
}

/** A small model whose chunks use every plane codec and tile shape the writer makes. */
export function syntheticSource(): Uint8Array {
  const rng = new Rng(7);
  const zeros = (n: number) => new Uint8Array(n);
  const repeat = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i % 37) * 3);
  const tensors: FixtureTensor[] = [
    {
      name: "model.embed_tokens.weight",
      dtype: "BF16",
      shape: [48, 40],
      data: normalBf16(rng, 1920),
    },
    { name: "model.layers.0.w", dtype: "F32", shape: [16, 40] },
    { name: "model.layers.0.norm", dtype: "F16", shape: [40], data: zeros(80) },
    { name: "model.layers.0.q", dtype: "I8", shape: [8, 64], data: repeat(512) },
    { name: "model.layers.1.s", dtype: "F64", shape: [3] },
    { name: "model.layers.1.e", dtype: "F32", shape: [0, 4] },
    { name: "scalar", dtype: "BF16", shape: [] },
    { name: "model.layers.1.u", dtype: "U8", shape: [5, 7], data: repeat(35) },
    { name: "model.norm.weight", dtype: "F8_E4M3", shape: [33] },
  ];
  return buildSafetensors(tensors, { format: "pt" });
}

async function pack(
  name: string,
  source: Uint8Array,
  options: PackOptions,
): Promise<SeedContainer> {
  const dir = await Deno.makeTempDir({ prefix: "tessera_fuzz_" });
  try {
    await packReader(bufferReader(source), `${dir}/c.tsr`, options);
    return { name, bytes: await Deno.readFile(`${dir}/c.tsr`), source };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Containers small enough to open and decode whole in a fraction of a millisecond each. */
export async function smallContainers(): Promise<SeedContainer[]> {
  const kat = await Deno.readFile(new URL("kat/kat.safetensors", FIXTURES));
  const synthetic = syntheticSource();
  return [
    { name: "kat.tsr", bytes: await Deno.readFile(new URL("kat/kat.tsr", FIXTURES)), source: kat },
    {
      name: "kat.fast.tsr",
      bytes: await Deno.readFile(new URL("kat/kat.fast.tsr", FIXTURES)),
      source: kat,
    },
    // FP8, INT8 and GPTQ tensors: adaptive planes (codec 5) and the packed INT4 layout.
    {
      name: "kat.quant.tsr",
      bytes: await Deno.readFile(new URL("kat/kat.quant.tsr", FIXTURES)),
      source: await Deno.readFile(new URL("kat/kat.quant.safetensors", FIXTURES)),
    },
    await pack("synthetic.best", synthetic, { mode: "best", chunkBytes: 512 }),
    await pack("synthetic.fast", synthetic, { mode: "fast", chunkBytes: 1024 }),
    ...await variantContainers(),
    // Last, since recorded findings name their seed by its place in this list. FP8 and INT8
    // tensors in context rANS (codec 6), every context source.
    {
      name: "kat.context.tsr",
      bytes: await Deno.readFile(new URL("kat/kat.context.tsr", FIXTURES)),
      source: await Deno.readFile(new URL("kat/kat.context.safetensors", FIXTURES)),
    },
  ];
}

/**
 * The known-answer containers of lossy variants (every variant kind, and a variant-only one), with
 * every variant of every tensor decoded whole from the unmutated bytes.
 */
async function variantContainers(): Promise<SeedContainer[]> {
  const source = await Deno.readFile(new URL("kat/variants.safetensors", FIXTURES));
  const out: SeedContainer[] = [];
  for (const name of ["variants.tsr", "variants.edge.tsr"]) {
    const bytes = await Deno.readFile(new URL(`kat/${name}`, FIXTURES));
    const c = await openContainer(bufferSource(bytes), nativeBackends());
    const variants = new Map<string, Uint8Array>();
    for (const t of c.index.tensors) {
      for (const v of c.index.variants ?? []) {
        variants.set(`${t.name}\0${v.name}`, await readVariantRegion(c, t, v.name));
      }
    }
    out.push({ name, bytes, source, variants });
  }
  return out;
}

/**
 * Containers packed from real weights: the committed stories260k fixture in both modes, and every
 * `*.safetensors` of `dataDir` smaller than `maxBytes` (the shared real-weights set, when present).
 */
export async function realContainers(
  dataDir?: string,
  maxBytes = 8 << 20,
): Promise<SeedContainer[]> {
  const stories = await Deno.readFile(new URL("stories260k.bf16.safetensors", FIXTURES));
  const out = [
    await pack("stories260k.bf16.best", stories, { mode: "best" }),
    await pack("stories260k.bf16.fast", stories, { mode: "fast" }),
  ];
  if (dataDir) {
    let names: string[] = [];
    try {
      names = [...Deno.readDirSync(dataDir)].map((e) => e.name).filter((n) =>
        n.endsWith(".safetensors")
      ).sort();
    } catch {
      // No shared data on this machine: the fixture alone.
    }
    for (const n of names) {
      const path = `${dataDir}/${n}`;
      if (Deno.statSync(path).size > maxBytes) continue;
      const source = await Deno.readFile(path);
      out.push(await pack(`${n}.fast`, source, { mode: "fast" }));
      out.push(await pack(`${n}.best`, source, { mode: "best" }));
    }
  }
  return out;
}

/** Every chunk of `containers`, decoded once by the TypeScript codec to know its raw bytes. */
export async function chunksOf(containers: readonly SeedContainer[]): Promise<SeedChunk[]> {
  const out: SeedChunk[] = [];
  for (const s of containers) {
    const c = await openContainer(bufferSource(s.bytes), nativeBackends());
    for (const t of c.index.tensors) {
      if (!t.encodings.some((e) => e.kind === "lossless")) continue; // variant-only
      const l = losslessOf(t);
      for (let i = 0; i < l.chunks.length; i++) {
        const [offset, storedLength, rawLength, storedXxh32, rawXxh32] = l.chunks[i];
        const stored = s.bytes.slice(offset, offset + storedLength);
        const raw = new Uint8Array(rawLength);
        const entry = { storedLength, rawLength, storedXxh32, rawXxh32 };
        decodeChunk(stored, entry, l.layout, raw, {
          zstdDecompress: nativeZstdDecompress,
          verifyStored: true,
        });
        out.push({ from: `${s.name} ${t.name} #${i}`, stored, entry, layout: l.layout, raw });
      }
    }
    c.source.close();
  }
  return out;
}
