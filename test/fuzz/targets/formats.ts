/**
 * Fuzz targets for the byte formats: the safetensors header parser, the container head and index
 * parsers, whole containers (open, header agreement, tensor reads, original stream) and the chunk
 * decoder in TypeScript and in the native kernel. A successful decode must give exactly the bytes
 * the seed decodes to.
 * @module
 */
import { decodeChunk } from "../../../codec/chunk_decode.ts";
import { CodecError } from "../../../codec/errors.ts";
import { portableZstdDecompress } from "../../../codec/zstd_decode.ts";
import { ContainerError } from "../../../src/container/errors.ts";
import {
  decodeHead,
  encodeHead,
  HEAD_BYTES,
  READ_VERSIONS,
} from "../../../src/container/format.ts";
import { checkHeaderAgreement } from "../../../src/container/header_agreement.ts";
import { geometryOf, losslessOf, parseIndex } from "../../../src/container/index_schema.ts";
import {
  openContainer,
  readOriginalHeader,
  readRegion,
  streamOriginal,
  streamRegion,
} from "../../../src/container/read.ts";
import { nativeBatch, type PieceDescription } from "../../../src/codec_native/kernel.ts";
import { nativeZstdDecompress } from "../../../src/codec_native/zstd.ts";
import { sha256Bytes } from "../../../src/hash/sha256.ts";
import { bufferReader } from "../../../src/io/random_access.ts";
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
let headerSeeds: { header: Uint8Array; dataLength: number }[] = [];

/** Builds the shared corpus once per process. */
async function corpus(): Promise<void> {
  if (containers.length) return;
  containers = await smallContainers();
  chunks = await chunksOf(containers);
  indexTexts = containers.map((s) => {
    const head = decodeHead(s.bytes.subarray(0, HEAD_BYTES), s.bytes.length);
    const stored = s.bytes.subarray(head.indexOffset, head.indexOffset + head.indexLength);
    const raw = head.indexCodec === 3 ? nativeZstdDecompress(stored, head.indexRawLength) : stored;
    return { text: text.decode(raw), size: s.bytes.length, version: head.version };
  });
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
function withIndex(bytes: Uint8Array, indexText: Uint8Array): Uint8Array {
  const head = decodeHead(bytes.subarray(0, HEAD_BYTES), bytes.length);
  const out = concat(bytes.subarray(0, head.indexOffset), indexText);
  out.set(
    encodeHead({
      indexCodec: 0,
      indexOffset: head.indexOffset,
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
}

/**
 * A mutated container through everything a server does with one: open, header agreement (as the
 * coming openContainer will), whole tensors, sub-rectangles and the original stream. Every byte
 * that comes out must be the seed's.
 */
export const containerTarget: FuzzTarget<ContainerInput> = {
  name: "container",
  weight: 4,
  covers: "src/container/read.ts openContainer, readRegion, streamRegion, streamOriginal; " +
    "header_agreement.ts",
  setup: corpus,
  generate(rng) {
    const seed = rng.int(containers.length);
    const s = containers[seed];
    const head = decodeHead(s.bytes.subarray(0, HEAD_BYTES), s.bytes.length);
    let bytes: Uint8Array;
    switch (rng.int(4)) {
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
      default: // bytes anywhere, mostly in the chunks and the stored header
        bytes = mutateBytes(rng, s.bytes, [], [HEAD_BYTES, head.indexOffset]);
    }
    const reads = Array.from({ length: 1 + rng.int(3) }, () => ({
      tensor: rng.int(64),
      r0: rng.int(64),
      r1: rng.int(64),
      c0: rng.int(64),
      c1: rng.int(64),
    }));
    return { seed, bytes, reads };
  },
  async run({ seed, bytes, reads }) {
    const s = containers[seed] ?? containers[0];
    const c = await openContainer(bufferReader(bytes));
    const header = await readOriginalHeader(c);
    checkHeaderAgreement(c.index, header);
    const n = Number(new DataView(s.source.buffer, s.source.byteOffset).getBigUint64(0, true));
    const original = parseHeader(s.source.subarray(8, 8 + n), s.source.length);
    const byName = new Map(original.tensors.map((t) => [t.name, t]));
    const dataStart = 8 + n;
    const sourceOf = (name: string) => {
      const t = byName.get(name);
      check(t !== undefined, `tensor ${JSON.stringify(name)} is not in the seed`);
      return s.source.subarray(dataStart + t.begin, dataStart + t.end);
    };
    for (const t of c.index.tensors) {
      try {
        const got = await readRegion(c, t);
        check(sameBytes(got, sourceOf(t.name)), `tensor ${t.name} decoded to other bytes`);
      } catch (e) {
        if (!(e instanceof ContainerError)) throw e;
      }
    }
    for (const r of reads) {
      const t = c.index.tensors[r.tensor % Math.max(1, c.index.tensors.length)];
      if (!t) break;
      const g = geometryOf(t);
      const rect = {
        r0: Math.min(r.r0, g.rows),
        r1: Math.min(Math.max(r.r0, r.r1), g.rows),
        c0: Math.min(r.c0, g.cols),
        c1: Math.min(Math.max(r.c0, r.c1), g.cols),
      };
      const parts: Uint8Array[] = [];
      try {
        for await (const p of streamRegion(c, t, rect)) parts.push(p.slice());
      } catch (e) {
        if (!(e instanceof ContainerError)) throw e;
        continue;
      }
      const src = sourceOf(t.name), got = concat(...parts);
      const span = (rect.c1 - rect.c0) * g.width;
      check(got.length === (rect.r1 - rect.r0) * span, "region length");
      for (let row = rect.r0; row < rect.r1; row++) {
        const from = (row * g.cols + rect.c0) * g.width;
        check(
          sameBytes(
            got.subarray((row - rect.r0) * span, (row - rect.r0 + 1) * span),
            src.subarray(from, from + span),
          ),
          `region ${JSON.stringify(rect)} of ${t.name} differs at row ${row}`,
        );
      }
    }
    const parts: Uint8Array[] = [];
    try {
      for await (const p of streamOriginal(c)) parts.push(p.slice());
    } catch (e) {
      if (!(e instanceof ContainerError)) throw e;
      return;
    }
    check(sameBytes(concat(...parts), s.source), "the original stream differs from the seed");
  },
  expected: (e) => e instanceof ContainerError,
};

// ---- chunks ----------------------------------------------------------------------------------

/** A chunk case: stored bytes, index record and layout, maybe mutated. */
export interface ChunkInput {
  seed: number;
  stored: Uint8Array;
  entry: { storedLength: number; rawLength: number; storedXxh32: number; rawXxh32: number };
  layout: { width: number; signMoved: boolean };
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

interface NativeInput {
  pieces: ChunkInput[];
  at: number[];
  hostile: { piece: number; field: keyof PieceDescription; value: number } | null;
  dstSlack: number;
}

/**
 * The native kernel through its FFI batch call: mutated chunks in one stored buffer, sometimes a
 * hostile descriptor field. A piece it reports decoded must hold the seed's bytes, and the
 * TypeScript decoder must agree that the chunk decodes.
 */
export const nativeTarget: FuzzTarget<NativeInput> = {
  name: "native",
  weight: 2,
  covers: "native/tsr_kernel.c tsr_decode_batch through src/codec_native/kernel.ts",
  setup: corpus,
  generate(rng) {
    const pieces = Array.from({ length: 1 + rng.int(3) }, () => mutateChunk(rng));
    let at = 0;
    const ats = pieces.map((p) => {
      const a = at;
      at += p.entry.rawLength + rng.int(3) * 8;
      return a;
    });
    const fields: (keyof PieceDescription)[] = [
      "offset",
      "storedLength",
      "rawLength",
      "at",
      "width",
    ];
    const hostile = rng.int(5) === 0
      ? {
        piece: rng.int(pieces.length),
        field: pick(rng, fields),
        value: pick(rng, [0, 1, 0xffffffff, 0x80000000, 1 << 20, 7, 9]),
      }
      : null;
    return { pieces, at: ats, hostile, dstSlack: rng.int(3) };
  },
  run(x) {
    if (!nativeBatch) return;
    const stored = concat(...x.pieces.map((p) => p.stored));
    const descs: PieceDescription[] = [];
    let offset = 0, end = 0;
    x.pieces.forEach((p, k) => {
      descs.push({
        offset,
        storedLength: p.stored.length,
        rawLength: p.entry.rawLength,
        rawXxh32: p.entry.rawXxh32,
        width: p.layout.width,
        signMoved: p.layout.signMoved,
        at: x.at[k],
      });
      offset += p.stored.length;
      end = Math.max(end, x.at[k] + p.entry.rawLength);
    });
    if (x.hostile) {
      const d = descs[x.hostile.piece] as unknown as Record<string, number>;
      d[x.hostile.field] = x.hostile.value;
    }
    const dst = new Uint8Array(end + x.dstSlack);
    const left = nativeBatch(stored, 0, descs, dst);
    // A hostile `at` or `rawLength` can make pieces overlap, and a later piece overwrite an earlier.
    const overlaps = (k: number) =>
      descs.some((d, j) =>
        j !== k && d.at < descs[k].at + descs[k].rawLength && descs[k].at < d.at + d.rawLength
      );
    x.pieces.forEach((p, k) => {
      if (left[k] !== 0) return;
      if (x.hostile?.piece === k || overlaps(k)) return; // decoded elsewhere than the seed said
      const want = expectedRaw(p);
      const got = dst.subarray(x.at[k], x.at[k] + p.entry.rawLength);
      check(want !== null && sameBytes(got, want), `kernel decoded piece ${k} to other bytes`);
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
