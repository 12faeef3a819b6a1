/**
 * Fuzz targets for the byte formats: the safetensors header parser, the container head and index
 * parsers, whole containers (open, header agreement, tensor reads, original stream) and the chunk
 * decoder in TypeScript and in the native kernel. A successful decode must give exactly the bytes
 * the seed decodes to.
 * @module
 */
import { decodeChunk } from "../../../codec/chunk_decode.ts";
import { CodecError } from "../../../codec/errors.ts";
import { loadPortableZstd, portableZstdDecompress } from "../../../codec/zstd_decode.ts";
import { ContainerError } from "../../../src/container/errors.ts";
import {
  decodeHead,
  encodeHead,
  HEAD_BYTES,
  READ_VERSIONS,
} from "../../../src/container/format.ts";
import {
  checkHeaderAgreement,
  strictHeaderAgreement,
} from "../../../src/container/header_agreement.ts";
import {
  geometryOf,
  type Index,
  losslessOf,
  parseIndex,
} from "../../../src/container/index_schema.ts";
import { openContainer } from "../../../src/container/open.ts";
import { portableBackends } from "../../../src/container/portable_backends.ts";
import {
  originalPieces,
  readOriginalHeader,
  readRegion,
  streamOriginal,
  streamRegion,
} from "../../../src/container/read.ts";
import { assemble } from "../../../src/container/assemble.ts";
import { planBlocks, slicePieces } from "../../../src/container/plan.ts";
import { bufferSource } from "../../../src/container/source.ts";
import { readVariantRegion } from "../../../src/container/variant_read.ts";
import type { KernelPiece } from "../../../src/container/backends.ts";
import { nativeBackends } from "../../../src/codec_native/backends.ts";
import { loadNativeLibrary } from "../../../src/codec_native/kernel.ts";
import { nativeZstdDecompress } from "../../../src/codec_native/zstd.ts";
import { sha256Bytes } from "../../../src/hash/sha256.ts";
import { SafetensorsError } from "../../../src/safetensors/errors.ts";
import { decodeHeaderLength, parseHeader } from "../../../src/safetensors/parse.ts";
import type { Rng } from "../../codec/prng.ts";
import { buildSafetensors } from "../../safetensors/fixture.ts";
import { check, type FuzzTarget, sameBytes } from "../core.ts";
import {
  chunksOf,
  type SeedChunk,
  type SeedContainer,
  smallContainers,
  syntheticSource,
} from "../corpus.ts";
import { concat, mutateBytes, mutateJson, pick } from "../mutate.ts";

const text = new TextDecoder();
const utf8 = new TextEncoder();

let containers: SeedContainer[] = [];
let chunks: SeedChunk[] = [];
let indexTexts: { text: string; size: number; version: number }[] = [];
let indexes: Index[] = [];
let headerSeeds: { header: Uint8Array; dataLength: number }[] = [];

/** Builds the shared corpus once per process. */
async function corpus(): Promise<void> {
  if (containers.length) return;
  await loadPortableZstd();
  containers = await smallContainers();
  chunks = await chunksOf(containers);
  indexTexts = containers.map((s) => {
    const head = decodeHead(s.bytes.subarray(0, HEAD_BYTES), s.bytes.length);
    const stored = s.bytes.subarray(head.indexOffset, head.indexOffset + head.indexLength);
    const raw = head.indexCodec === 3 ? nativeZstdDecompress(stored, head.indexRawLength) : stored;
    return { text: text.decode(raw), size: s.bytes.length, version: head.version };
  });
  indexes = indexTexts.map((x) => parseIndex(utf8.encode(x.text), x.size, x.version));
  const sources = [
    ...new Set(containers.map((s) => s.source)),
    buildSafetensors([]),
    buildSafetensors(
      [{ name: "a", dtype: "F32", shape: [0] }, {
        name: "b",
        dtype: "BF16",
        shape: [2, 3],
      }],
      undefined,
      { align: 1, extraSpaces: 5 },
    ),
    syntheticSource(),
  ];
  headerSeeds = sources.map((s) => {
    const n = Number(new DataView(s.buffer, s.byteOffset).getBigUint64(0, true));
    return { header: s.slice(8, 8 + n), dataLength: s.length - 8 - n };
  });
}

// ---- safetensors header ------------------------------------------------------------------------

interface HeaderInput {
  header: Uint8Array;
  fileSize: number;
  prefix: Uint8Array;
}

/** parseHeader and decodeHeaderLength: only SafetensorsError; an accepted header is sound. */
export const safetensorsTarget: FuzzTarget<HeaderInput> = {
  name: "safetensors",
  weight: 2,
  covers: "src/safetensors/parse.ts parseHeader, decodeHeaderLength (strict JSON included)",
  setup: corpus,
  generate(rng) {
    const seed = pick(rng, headerSeeds);
    let header: Uint8Array;
    const r = rng.int(10);
    if (r < 5) header = utf8.encode(mutateJson(rng, text.decode(seed.header).trimEnd()));
    else if (r < 9) header = mutateBytes(rng, seed.header, headerSeeds.map((s) => s.header));
    else header = rng.bytes(rng.int(64));
    let fileSize = 8 + header.length + seed.dataLength;
    if (rng.int(8) === 0) fileSize = pick(rng, [0, 7, 8, fileSize - 1, fileSize + 1, 2 ** 53]);
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);
    return { header, fileSize, prefix: rng.int(4) ? prefix : mutateBytes(rng, prefix) };
  },
  run({ header, fileSize, prefix }) {
    try {
      const n = decodeHeaderLength(prefix, fileSize);
      check(n >= 0 && n + 8 <= fileSize, `header length ${n} accepted for ${fileSize} bytes`);
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw e;
    }
    const h = parseHeader(header, fileSize);
    let at = 0;
    for (const t of h.tensors) {
      check(t.begin === at && t.end >= t.begin, `tensor ${t.name} at ${t.begin}, expected ${at}`);
      at = t.end;
    }
    check(h.dataStart + at === fileSize, `tensors end at ${at}, file is ${fileSize}`);
    // The strict parser and JSON.parse agree on every header it accepts.
    const json = JSON.parse(text.decode(header)) as Record<string, unknown>;
    check(
      Object.keys(json).length === h.tensors.length + (h.metadata ? 1 : 0),
      "strict parser and JSON.parse disagree on the members",
    );
  },
  expected: (e) => e instanceof SafetensorsError,
};

// ---- container head ------------------------------------------------------------------------

/** decodeHead: only ContainerError; an accepted head points inside the file. */
export const headTarget: FuzzTarget<{ head: Uint8Array; fileSize: number }> = {
  name: "head",
  covers: "src/container/format.ts decodeHead",
  setup: corpus,
  generate(rng) {
    const s = pick(rng, containers);
    const head = rng.int(10) === 0
      ? rng.bytes(rng.int(80))
      : mutateBytes(rng, s.bytes.subarray(0, HEAD_BYTES), [], [8, 32]);
    const fileSize = rng.int(6) ? s.bytes.length : pick(rng, [0, 63, 64, s.bytes.length - 1]);
    return { head, fileSize };
  },
  run({ head, fileSize }) {
    const h = decodeHead(head, fileSize);
    check(READ_VERSIONS.includes(h.version), `version ${h.version}`);
    check(
      h.indexOffset >= HEAD_BYTES && h.indexOffset + h.indexLength <= fileSize,
      `index ${h.indexOffset}+${h.indexLength} outside ${fileSize}`,
    );
  },
  expected: (e) => e instanceof ContainerError,
};

// ---- container index -------------------------------------------------------------------------

/** parseIndex: only ContainerError; an accepted index has a sound tile grid for every tensor. */
export const indexTarget: FuzzTarget<{ json: Uint8Array; size: number; version: number }> = {
  name: "index",
  weight: 2,
  covers: "src/container/index_schema.ts parseIndex, validateIndex (zod schema included)",
  setup: corpus,
  generate(rng) {
    const s = pick(rng, indexTexts);
    const r = rng.int(10);
    const json = r < 7
      ? utf8.encode(mutateJson(rng, s.text))
      : mutateBytes(rng, utf8.encode(s.text), indexTexts.map((x) => utf8.encode(x.text)));
    const version = rng.int(10) ? s.version : pick(rng, [0, 1, 2, 3, 4]);
    return { json, size: rng.int(10) ? s.size : s.size - 1 - rng.int(100), version };
  },
  run({ json, size, version }) {
    const index = parseIndex(json, size, version);
    for (const t of index.tensors) {
      const g = geometryOf(t);
      const l = losslessOf(t);
      check(g.rows * g.cols * g.width === t.offsets[1] - t.offsets[0], `${t.name} size`);
      for (const [offset, stored] of l.chunks) {
        check(offset >= HEAD_BYTES && offset + stored <= size, `${t.name} chunk past the end`);
      }
    }
  },
  expected: (e) => e instanceof ContainerError,
};

// ---- whole containers ------------------------------------------------------------------------

/** A container's bytes with its index replaced (plain) and the head's SHA-256 recomputed. */
function withIndex(
  bytes: Uint8Array,
  indexText: Uint8Array,
  indexOffset = decodeHead(bytes.subarray(0, HEAD_BYTES), bytes.length).indexOffset,
): Uint8Array {
  const out = concat(bytes.subarray(0, indexOffset), indexText);
  out.set(
    encodeHead({
      indexCodec: 0,
      indexOffset,
      indexLength: indexText.length,
      indexRawLength: indexText.length,
      indexSha256: sha256Bytes(indexText),
    }),
    0,
  );
  return out;
}

interface ContainerInput {
  seed: number;
  bytes: Uint8Array;
  reads: { tensor: number; r0: number; r1: number; c0: number; c1: number }[];
  // Absent in inputs saved before the one reader; they replay as native, without these reads.
  portable?: boolean;
  ranges?: { start: number; length: number }[];
  variants?: { tensor: number; variant: number; r0: number; r1: number; c0: number; c1: number }[];
}

/** Clamps a drawn rectangle into a rows x cols matrix, keeping r0 <= r1 and c0 <= c1. */
function clampRect(
  r: { r0: number; r1: number; c0: number; c1: number },
  rows: number,
  cols: number,
) {
  return {
    r0: Math.min(r.r0, rows),
    r1: Math.min(Math.max(r.r0, r.r1), rows),
    c0: Math.min(r.c0, cols),
    c1: Math.min(Math.max(r.c0, r.c1), cols),
  };
}

/** Rows `rect` of a row-major `cols`-wide matrix of `width`-byte elements, packed. */
function cut(src: Uint8Array, cols: number, width: number, rect: ReturnType<typeof clampRect>) {
  const span = (rect.c1 - rect.c0) * width;
  const out = new Uint8Array((rect.r1 - rect.r0) * span);
  for (let row = rect.r0; row < rect.r1; row++) {
    const from = (row * cols + rect.c0) * width;
    out.set(src.subarray(from, from + span), (row - rect.r0) * span);
  }
  return out;
}

async function collect(parts: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  for await (const p of parts) out.push(p.slice());
  return concat(...out);
}

/** Runs `f`, ignoring a ContainerError (a refusal); any other error is a finding. */
async function refusable<T>(f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    if (!(e instanceof ContainerError)) throw e;
    return undefined;
  }
}

/**
 * A mutated container through everything a server does with one: open (header agreement
 * included, and the quick check compared with the strict one), whole tensors, sub-rectangles,
 * byte ranges of the original file as the server plans them, the original stream and variant
 * regions, with the portable or the native backends. Every byte that comes out must be the seed's.
 */
export const containerTarget: FuzzTarget<ContainerInput> = {
  name: "container",
  weight: 4,
  covers: "src/container/open.ts openContainer (header_agreement.ts), read.ts readRegion, " +
    "streamRegion, streamOriginal; plan.ts slicePieces, planBlocks; assemble.ts; decode_block.ts; " +
    "variant_read.ts readVariantRegion; portable and native backends",
  setup: corpus,
  generate(rng) {
    const seed = rng.int(containers.length);
    const s = containers[seed];
    const head = decodeHead(s.bytes.subarray(0, HEAD_BYTES), s.bytes.length);
    let bytes: Uint8Array;
    switch (rng.int(5)) {
      case 0: // the index edited field by field, head SHA-256 recomputed
        bytes = withIndex(s.bytes, utf8.encode(mutateJson(rng, indexTexts[seed].text)));
        break;
      case 1: { // the stored index's bytes changed, head SHA-256 recomputed
        const stored = s.bytes.slice(head.indexOffset, head.indexOffset + head.indexLength);
        const m = mutateBytes(rng, stored);
        bytes = concat(s.bytes.subarray(0, head.indexOffset), m);
        bytes.set(
          encodeHead({
            indexCodec: head.indexCodec,
            indexOffset: head.indexOffset,
            indexLength: m.length,
            indexRawLength: rng.int(4) ? head.indexRawLength : m.length,
            indexSha256: sha256Bytes(m),
          }),
          0,
        );
        break;
      }
      case 2: // the original header edited, its SHA-256 in the index recomputed
        bytes = withHeader(rng, s, seed);
        break;
      default: // bytes anywhere, mostly in the chunks and the stored header
        bytes = mutateBytes(rng, s.bytes, [], [HEAD_BYTES, head.indexOffset]);
    }
    const rect = () => ({ r0: rng.int(64), r1: rng.int(64), c0: rng.int(64), c1: rng.int(64) });
    const size = s.source.length;
    return {
      seed,
      bytes,
      portable: rng.int(3) === 0,
      reads: Array.from({ length: 1 + rng.int(3) }, () => ({ tensor: rng.int(64), ...rect() })),
      ranges: Array.from({ length: rng.int(3) }, () => ({
        start: rng.int(2) ? rng.int(size) : rng.int(Math.min(size, 256)),
        length: 1 + rng.int(rng.int(2) ? 64 : size),
      })),
      variants: Array.from({ length: rng.int(3) }, () => ({
        tensor: rng.int(64),
        variant: rng.int(16),
        ...rect(),
      })),
    };
  },
  async run(x) {
    const s = containers[x.seed] ?? containers[0];
    const c = await openContainer(
      bufferSource(x.bytes),
      x.portable === true ? portableBackends : nativeBackends(),
    );
    if (c.originalHeader) {
      // What openContainer accepted, the strict reference accepts too.
      strictHeaderAgreement(c.index, c.originalHeader);
    }
    const n = Number(new DataView(s.source.buffer, s.source.byteOffset).getBigUint64(0, true));
    const original = parseHeader(s.source.subarray(8, 8 + n), s.source.length);
    const byName = new Map(original.tensors.map((t) => [t.name, t]));
    const dataStart = 8 + n;
    const sourceOf = (name: string) => {
      const t = byName.get(name);
      check(t !== undefined, `tensor ${JSON.stringify(name)} is not in the seed`);
      return s.source.subarray(dataStart + t.begin, dataStart + t.end);
    };
    const tensors = c.index.tensors;
    const pickTensor = (k: number) => tensors[k % Math.max(1, tensors.length)];
    for (const t of tensors) {
      const got = await refusable(() => readRegion(c, t));
      if (got) check(sameBytes(got, sourceOf(t.name)), `tensor ${t.name} decoded to other bytes`);
    }
    for (const r of x.reads) {
      const t = pickTensor(r.tensor);
      if (!t) break;
      const g = geometryOf(t);
      const rect = clampRect(r, g.rows, g.cols);
      const got = await refusable(() => collect(streamRegion(c, t, rect)));
      if (!got) continue;
      check(
        sameBytes(got, cut(sourceOf(t.name), g.cols, g.width, rect)),
        `region ${JSON.stringify(rect)} of ${t.name} differs`,
      );
    }
    // The original as this container holds it: an edited header that agrees with the index is
    // served as it is (and then fails only the file's SHA-256); the data must be the seed's.
    const expected = c.originalHeader && c.originalHeader.length === n
      ? concat(s.source.subarray(0, 8), c.originalHeader, s.source.subarray(dataStart))
      : s.source;
    // Ranges of the original file as the server plans them, read with the header only if needed.
    const size = c.index.source.size;
    const headerEnd = 8 + c.index.source.header.length;
    for (const r of x.ranges ?? []) {
      const start = Math.min(r.start, size), end = Math.min(size, start + r.length);
      const header = start < headerEnd
        ? await refusable(() => readOriginalHeader(c))
        : new Uint8Array(c.index.source.header.length);
      if (!header) continue;
      const blocks = planBlocks(slicePieces(originalPieces(c, header), start, end));
      const got = await refusable(() => collect(assemble(c, blocks)));
      if (got) {
        check(
          sameBytes(got, expected.subarray(start, end)),
          `original bytes ${start}-${end} differ`,
        );
      }
    }
    for (const v of x.variants ?? []) {
      const names = (c.index.variants ?? []).map((x) => x.name);
      const t = pickTensor(v.tensor);
      if (!t || names.length === 0) break;
      const name = names[v.variant % names.length];
      const g = geometryOf(t);
      const rect = clampRect(v, g.rows, g.cols);
      const got = await refusable(() => readVariantRegion(c, t, name, rect));
      if (got) {
        // A variant's name is only a label: a mutation that renames or swaps variants everywhere
        // (the list and every encoding) is a valid container whose variant serves another
        // name's bytes. What must hold is that the bytes are those of some variant of this
        // tensor in the seed, or its exact bytes (a tensor the variant keeps), never others.
        const want = s.variants?.get(`${t.name}\0${name}`);
        const seedOwn = [...(s.variants ?? [])]
          .filter(([key]) => key.startsWith(`${t.name}\0`))
          .map(([, bytes]) => bytes);
        const candidates = [...(want ? [want] : []), ...seedOwn, sourceOf(t.name)];
        check(
          candidates.some((w) => sameBytes(got, cut(w, g.cols, g.width, rect))),
          `variant ${name} of ${t.name}, ${JSON.stringify(rect)}, is no variant of the seed's`,
        );
      }
    }
    const whole = await refusable(() => collect(streamOriginal(c)));
    if (whole) check(sameBytes(whole, expected), "the original stream differs from the seed");
    c.source.close();
  },
  expected: (e) => e instanceof ContainerError,
};

// ---- header agreement -------------------------------------------------------------------------

interface AgreementInput {
  seed: number;
  header: Uint8Array;
}

/**
 * The quick header agreement check that openContainer runs against the strict reference (the
 * safetensors parser, then a comparison): on original headers mutated member by member or byte by
 * byte, mostly kept at their length, both must give the same verdict for the seed's index.
 */
export const agreementTarget: FuzzTarget<AgreementInput> = {
  name: "agreement",
  covers: "src/container/header_agreement.ts checkHeaderAgreement against strictHeaderAgreement",
  setup: corpus,
  generate(rng) {
    const seed = rng.int(containers.length);
    const s = containers[seed];
    const n = Number(new DataView(s.source.buffer, s.source.byteOffset).getBigUint64(0, true));
    const old = s.source.subarray(8, 8 + n);
    let header: Uint8Array = rng.int(3)
      ? utf8.encode(mutateJson(rng, text.decode(old).trimEnd()))
      : mutateBytes(rng, old, headerSeeds.map((h) => h.header));
    if (header.length < n && rng.int(8)) {
      header = concat(header, utf8.encode(" ".repeat(n - header.length)));
    }
    return { seed, header };
  },
  run({ seed, header }) {
    const index = indexes[seed];
    const verdict = (f: typeof checkHeaderAgreement) => {
      try {
        f(index, header);
        return "agrees";
      } catch (e) {
        if (!(e instanceof ContainerError)) throw e;
        return e.kind;
      }
    };
    const quick = verdict(checkHeaderAgreement), strict = verdict(strictHeaderAgreement);
    check(quick === strict, `the quick check says ${quick}, the strict one ${strict}`);
  },
  expected: () => false,
};

/**
 * A container whose stored original header is replaced by an edit of it, stored plain at the end
 * of the file, with `source.header` and the head updated: the header is intact, so what matters is
 * whether it agrees with the index.
 */
function withHeader(rng: Rng, s: SeedContainer, seed: number): Uint8Array {
  const index = JSON.parse(indexTexts[seed].text);
  const n = Number(new DataView(s.source.buffer, s.source.byteOffset).getBigUint64(0, true));
  const old = text.decode(s.source.subarray(8, 8 + n));
  let edited: Uint8Array = utf8.encode(mutateJson(rng, old.trimEnd()));
  // Padded to the old length when shorter, so the edit, not its length, is what is judged.
  if (edited.length < n && rng.int(4)) {
    edited = concat(edited, utf8.encode(" ".repeat(n - edited.length)));
  }
  const head = decodeHead(s.bytes.subarray(0, HEAD_BYTES), s.bytes.length);
  const at = Math.ceil(head.indexOffset / index.alignment) * index.alignment;
  index.source.header = {
    ...index.source.header,
    offset: at,
    storedLength: edited.length,
    length: edited.length,
    codec: 0,
    sha256: hexOf(sha256Bytes(edited)),
  };
  const body = concat(
    s.bytes.subarray(0, head.indexOffset),
    new Uint8Array(at - head.indexOffset),
    edited,
  );
  return withIndex(body, utf8.encode(JSON.stringify(index)), body.length);
}

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- chunks ----------------------------------------------------------------------------------

/** A chunk case: stored bytes, index record and layout, maybe mutated. */
export interface ChunkInput {
  seed: number;
  stored: Uint8Array;
  entry: { storedLength: number; rawLength: number; storedXxh32: number; rawXxh32: number };
  layout: { width: number; signMoved: boolean; packing?: "int4" };
  verifyStored: boolean;
  portable: boolean;
}

/** The seed chunks (small containers), built on first use. */
export async function seedChunks(): Promise<readonly SeedChunk[]> {
  await corpus();
  return chunks;
}

/** A chunk mutated in its plane table, payloads or index record. */
export function mutateChunk(rng: Rng): ChunkInput {
  const seed = rng.int(chunks.length);
  const s = chunks[seed];
  const table = 1 + 5 * s.layout.width;
  let stored = s.stored;
  let entry = { ...s.entry };
  const layout = { ...s.layout };
  const r = rng.int(12);
  if (r < 9) {
    stored = mutateBytes(rng, s.stored, [], r < 4 ? [0, table] : [table, s.stored.length]);
    if (rng.int(3)) entry = { ...entry, storedLength: stored.length };
  } else if (r === 9) {
    entry.rawLength = pick(rng, [0, entry.rawLength - 1, entry.rawLength + 1, entry.rawLength * 2]);
    entry.rawLength = Math.max(0, Math.min(entry.rawLength, 1 << 22));
  } else if (r === 10) {
    layout.width = pick(rng, [1, 2, 4, 8]);
    layout.signMoved = rng.int(2) === 0;
  } else {
    stored = rng.bytes(rng.int(2 * s.stored.length + 16));
    entry = { ...entry, storedLength: stored.length };
  }
  return {
    seed,
    stored,
    entry,
    layout,
    verifyStored: rng.int(4) === 0,
    portable: rng.int(2) === 0,
  };
}

/** What `x` must decode to if it decodes at all: the seed's bytes, or null when it must fail. */
export function expectedRaw(x: ChunkInput): Uint8Array | null {
  const s = chunks[x.seed];
  // Only an unchanged record can decode: a decode that succeeds must give the seed's bytes.
  return s && x.entry.rawLength === s.entry.rawLength && x.entry.rawXxh32 === s.entry.rawXxh32
    ? s.raw
    : null;
}

/** The TypeScript chunk decoder: only CodecError; a success is the seed's exact bytes. */
export const chunkTarget: FuzzTarget<ChunkInput> = {
  name: "chunk",
  weight: 2,
  covers: "codec/chunk_decode.ts decodeChunk: plane table, raw/const/rANS/Huffman/zstd planes, " +
    "merge, XXH32",
  setup: corpus,
  generate: mutateChunk,
  run(x) {
    const out = new Uint8Array(x.entry.rawLength);
    decodeChunk(x.stored, x.entry, x.layout, out, {
      zstdDecompress: x.portable ? portableZstdDecompress : nativeZstdDecompress,
      verifyStored: x.verifyStored,
    });
    const want = expectedRaw(x);
    check(want !== null && sameBytes(out, want), "a mutated chunk decoded to other bytes");
  },
  expected: (e) => e instanceof CodecError,
};

type HostileField =
  | "offset"
  | "storedLength"
  | "rawLength"
  | "at"
  | "width"
  | "rowBytes"
  | "stride"
  | "target";

interface NativeInput {
  pieces: ChunkInput[];
  at: number[];
  scatter: ({ rowBytes: number; stride: number; target: number } | null)[];
  hostile: { piece: number; field: HostileField; value: number } | null;
  dstSlack: number;
}

/** A piece description with one field set to `value`, whatever it is. */
function withHostile(p: KernelPiece, field: HostileField, value: number): KernelPiece {
  if (field === "width") return { ...p, layout: { ...p.layout, width: value } };
  if (field === "rowBytes" || field === "stride" || field === "target") {
    const scatter = p.scatter ?? { rowBytes: p.rawLength, stride: p.rawLength, target: p.at };
    return { ...p, scatter: { ...scatter, [field]: value } };
  }
  return { ...p, [field]: value };
}

/**
 * The native kernel through its FFI batch call: mutated chunks in one stored buffer, some scattered
 * as column-tile rows, sometimes a hostile descriptor field. A piece it reports decoded must hold
 * the seed's bytes where the seed says, and the TypeScript decoder must agree that it decodes.
 */
export const nativeTarget: FuzzTarget<NativeInput> = {
  name: "native",
  weight: 2,
  covers: "native/tsr_kernel.c tsr_decode_batch through src/codec_native/kernel.ts",
  setup: corpus,
  generate(rng) {
    const pieces = Array.from({ length: 1 + rng.int(3) }, () => mutateChunk(rng));
    let at = 0;
    const ats: number[] = [];
    const scatter = pieces.map((p) => {
      const raw = p.entry.rawLength;
      ats.push(at);
      at += raw + rng.int(3) * 8;
      // Rows of a column tile: `rows` rows of raw / rows bytes, `stride` apart in the output.
      const rows = pick(rng, [1, 2, 4, 8].filter((r) => raw % r === 0));
      if (rng.int(3) || raw === 0) return null;
      const rowBytes = raw / rows, stride = rowBytes + 8 * (1 + rng.int(4));
      const target = at;
      at += stride * rows;
      return { rowBytes, stride, target };
    });
    const fields: HostileField[] = [
      "offset",
      "storedLength",
      "rawLength",
      "at",
      "width",
      "rowBytes",
      "stride",
      "target",
    ];
    const hostile = rng.int(5) === 0
      ? {
        piece: rng.int(pieces.length),
        field: pick(rng, fields),
        value: pick(rng, [0, 1, 0xffffffff, 0x80000000, 1 << 20, 7, 9]),
      }
      : null;
    return { pieces, at: ats, scatter, hostile, dstSlack: rng.int(3) };
  },
  run(x) {
    const lib = loadNativeLibrary();
    if (!lib) return;
    const stored = concat(...x.pieces.map((p) => p.stored));
    let descs: KernelPiece[] = [];
    let offset = 0, end = 0;
    x.pieces.forEach((p, k) => {
      const s = x.scatter[k];
      descs.push({
        offset,
        storedLength: p.stored.length,
        rawLength: p.entry.rawLength,
        rawXxh32: p.entry.rawXxh32,
        layout: p.layout,
        at: x.at[k],
        ...(s && { scatter: s }),
      });
      offset += p.stored.length;
      end = Math.max(end, x.at[k] + p.entry.rawLength);
      if (s) end = Math.max(end, s.target + s.stride * (p.entry.rawLength / s.rowBytes));
    });
    if (x.hostile) {
      const h = x.hostile;
      descs = descs.map((d, k) => (k === h.piece ? withHostile(d, h.field, h.value) : d));
    }
    const dst = new Uint8Array(end + x.dstSlack);
    const left = lib.batch(stored, 0, descs, dst);
    // A hostile `at` or `rawLength` can make pieces overlap, and a later piece overwrite an earlier.
    const span = (d: KernelPiece): [number, number][] => {
      const out: [number, number][] = [[d.at, d.at + d.rawLength]];
      if (d.scatter) {
        const rows = Math.ceil(d.rawLength / Math.max(1, d.scatter.rowBytes));
        out.push([d.scatter.target, d.scatter.target + d.scatter.stride * rows]);
      }
      return out;
    };
    const overlaps = (k: number) =>
      descs.some((d, j) =>
        j !== k &&
        span(d).some(([a, b]) => span(descs[k]).some(([c, e]) => a < e && c < b))
      );
    x.pieces.forEach((p, k) => {
      if (left[k] !== 0) return;
      if (x.hostile?.piece === k || overlaps(k)) return; // decoded elsewhere than the seed said
      const want = expectedRaw(p);
      check(want !== null, `the kernel accepted mutated piece ${k}`);
      const s = x.scatter[k];
      if (s) {
        for (let r = 0; r * s.rowBytes < want.length; r++) {
          const got = dst.subarray(s.target + r * s.stride, s.target + r * s.stride + s.rowBytes);
          check(
            sameBytes(got, want.subarray(r * s.rowBytes, (r + 1) * s.rowBytes)),
            `kernel scattered row ${r} of piece ${k} wrong`,
          );
        }
      } else {
        const got = dst.subarray(x.at[k], x.at[k] + p.entry.rawLength);
        check(sameBytes(got, want), `kernel decoded piece ${k} to other bytes`);
      }
      // The TypeScript decoder must accept what the kernel accepts.
      const out = new Uint8Array(p.entry.rawLength);
      try {
        decodeChunk(p.stored, { ...p.entry, storedLength: p.stored.length }, p.layout, out, {
          zstdDecompress: nativeZstdDecompress,
        });
      } catch (e) {
        check(false, `the kernel accepted piece ${k}, the TypeScript decoder refused it: ${e}`);
      }
    });
  },
  expected: (e) => e instanceof CodecError,
};
