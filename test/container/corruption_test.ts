/**
 * Damaged containers fail with the specific ContainerError kind, never another exception type and
 * never with wrong bytes; malformed safetensors inputs fail to pack without leaving files behind.
 */
import assert from "node:assert/strict";
import { DTYPES } from "../../codec/dtype.ts";
import type { ContainerErrorKind } from "../../src/container/errors.ts";
import { FORMAT_VERSION, HEAD_BYTES, MAGIC, READ_VERSIONS } from "../../src/container/format.ts";
import { type Index, losslessOf } from "../../src/container/index_schema.ts";
import type { Container } from "../../src/container/open.ts";
import { readRegion, tensorOf } from "../../src/container/read.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { unpackFile } from "../../src/io/unpack_file.ts";
import { verifyContainer } from "../../src/container/verify.ts";
import { packFile, packReader } from "../../src/pack/write.ts";
import { bufferReader } from "../../src/io/random_access.ts";
import { SafetensorsError } from "../../src/safetensors/errors.ts";
import { normalBf16, Rng } from "../codec/prng.ts";
import { buildSafetensors, type FixtureTensor, rawSafetensors } from "../safetensors/fixture.ts";
import {
  dtypeData,
  editIndex,
  expectContainerError,
  isContainerError,
  listDir,
  openBytes,
  packBytes,
  readChunk,
  readIndexJson,
  readOriginal,
  sourceTensorBytes,
  withTempDir,
} from "../helpers/container.ts";

/** A small model whose chunks use every plane codec: raw, const, rANS and zstd. */
function sampleFile(): Uint8Array {
  const rng = new Rng(99);
  const tensors: FixtureTensor[] = [
    {
      name: "model.embed_tokens.weight",
      dtype: "BF16",
      shape: [40, 64],
      data: normalBf16(rng, 2560),
    },
    {
      name: "model.layers.0.attn.q.weight",
      dtype: "F32",
      shape: [24, 48],
      data: dtypeData("F32", 1152, rng),
    },
    { name: "model.layers.0.mask", dtype: "BOOL", shape: [300], data: new Uint8Array(300).fill(1) },
    {
      name: "model.layers.1.tied",
      dtype: "F16",
      shape: [16, 64],
      // Repeated rows: a plane zstd wins on.
      data: (() => {
        const row = dtypeData("F16", 64, rng), out = new Uint8Array(16 * 128);
        for (let r = 0; r < 16; r++) out.set(row, r * 128);
        return out;
      })(),
    },
    { name: "model.layers.1.bias", dtype: "F64", shape: [33], data: dtypeData("F64", 33, rng) },
    { name: "model.norm.weight", dtype: "U8", shape: [700], data: rng.bytes(700) },
    { name: "lm_head.weight", dtype: "I32", shape: [10, 20], data: dtypeData("I32", 200, rng) },
    { name: "empty", dtype: "F8_E4M3", shape: [0, 4] },
  ];
  return buildSafetensors(tensors, { format: "pt" });
}

interface Packed {
  src: Uint8Array;
  bytes: Uint8Array;
  index: Index;
}

let packedOnce: Promise<Packed> | null = null;
/** The sample file packed once (best mode, 512-byte chunks), shared by the read-only tests. */
function packed(): Promise<Packed> {
  packedOnce ??= withTempDir(async (dir) => {
    const src = sampleFile();
    const { bytes, index } = await packBytes(src, dir, { chunkBytes: 512, mode: "best" });
    return { src, bytes, index };
  });
  return packedOnce;
}

/** Opens `bytes`, then reads every tensor and the whole original; returns the first error. */
async function readEverything(bytes: Uint8Array): Promise<unknown> {
  try {
    const c = await openBytes(bytes);
    for (const t of c.index.tensors) await readRegion(c, t);
    await readOriginal(c);
    await verifyContainer(c);
    return null;
  } catch (e) {
    return e;
  }
}

// ---- the head ----------------------------------------------------------------------------------

Deno.test("corruption: empty and sub-head files are truncated", async () => {
  const { bytes } = await packed();
  for (const n of [0, 1, 7, 8, 12, 32, 63]) {
    await expectContainerError(openBytes(bytes.slice(0, n)), "truncated");
    await expectContainerError(openBytes(new Uint8Array(n)), "truncated");
  }
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/empty.tsr`, new Uint8Array(0));
    await expectContainerError(openContainerFile(`${dir}/empty.tsr`), "truncated");
    await Deno.writeFile(`${dir}/short.tsr`, bytes.slice(0, 40));
    await expectContainerError(openContainerFile(`${dir}/short.tsr`), "truncated");
  });
});

Deno.test("corruption: wrong magic is bad_magic", async () => {
  const { bytes, src } = await packed();
  for (let i = 0; i < MAGIC.length; i++) {
    const b = bytes.slice();
    b[i] ^= 0x20;
    await expectContainerError(openBytes(b), "bad_magic");
  }
  // A safetensors file is not a container.
  await expectContainerError(openBytes(src), "bad_magic");
  await expectContainerError(openBytes(new Uint8Array(4096)), "bad_magic");
});

Deno.test("corruption: another format version is unsupported_version", async () => {
  const { bytes } = await packed();
  for (const version of [0, 4, 0xffffffff]) {
    const b = bytes.slice();
    new DataView(b.buffer).setUint32(8, version, true);
    const e = await expectContainerError(openBytes(b), "unsupported_version");
    assert.match(e.message, new RegExp(String(version)));
  }
});

function setHead(bytes: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const b = bytes.slice();
  edit(new DataView(b.buffer));
  return b;
}

Deno.test("corruption: index offset or length past the end is truncated", async () => {
  const { bytes } = await packed();
  const size = bytes.length;
  const cases = [
    setHead(bytes, (v) => v.setBigUint64(16, BigInt(size), true)),
    setHead(bytes, (v) => v.setBigUint64(16, BigInt(size) + 4096n, true)),
    setHead(bytes, (v) => v.setBigUint64(16, 0xffffffffffffffffn, true)),
    setHead(bytes, (v) => v.setBigUint64(16, 0n, true)),
    setHead(bytes, (v) => v.setBigUint64(16, 63n, true)),
    setHead(bytes, (v) => v.setUint32(24, size, true)),
    setHead(bytes, (v) => v.setUint32(24, 0xffffffff, true)),
  ];
  for (const b of cases) await expectContainerError(openBytes(b), "truncated");
  // A file cut right after the head.
  await expectContainerError(openBytes(bytes.slice(0, HEAD_BYTES)), "truncated");
});

Deno.test("corruption: reserved bytes, unknown index codec or bad raw length are index_invalid", async () => {
  const { bytes } = await packed();
  await expectContainerError(
    openBytes(setHead(bytes, (v) => v.setUint16(12, 1, true))),
    "index_invalid",
  );
  await expectContainerError(
    openBytes(setHead(bytes, (v) => v.setUint16(12, 7, true))),
    "index_invalid",
  );
  await expectContainerError(
    openBytes(setHead(bytes, (v) => v.setUint16(14, 1, true))),
    "index_invalid",
  );
  await expectContainerError(
    openBytes(setHead(bytes, (v) => v.setUint32(28, v.getUint32(28, true) + 1, true))),
    "index_invalid",
  );
  await expectContainerError(
    openBytes(setHead(bytes, (v) => v.setUint32(28, 0xffffffff, true))),
    "index_invalid",
  );
});

Deno.test("corruption: every single-bit flip of the head gives the kind its field implies", async () => {
  const { bytes } = await packed();
  const expected = (byte: number, bit: number): ContainerErrorKind[] => {
    if (byte < 8) return ["bad_magic"];
    // A flip to another readable version (3 to 2 or 1) is caught by the index's own version.
    if (byte < 12) {
      const version = (FORMAT_VERSION ^ ((1 << bit) << (8 * (byte - 8)))) >>> 0;
      return [READ_VERSIONS.includes(version) ? "index_invalid" : "unsupported_version"];
    }
    if (byte < 16) return ["index_invalid"];
    // A moved or resized index either leaves the file or no longer hashes right.
    if (byte < 28) return ["truncated", "index_checksum"];
    if (byte < 32) return ["index_invalid"];
    return ["index_checksum"];
  };
  for (let byte = 0; byte < HEAD_BYTES; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = bytes.slice();
      b[byte] ^= 1 << bit;
      await expectContainerError(openBytes(b), expected(byte, bit));
    }
  }
});

// ---- the index ---------------------------------------------------------------------------------

Deno.test("corruption: a flipped index byte is index_checksum", async () => {
  const { bytes } = await packed();
  const head = new DataView(bytes.buffer, bytes.byteOffset);
  const offset = Number(head.getBigUint64(16, true)), length = head.getUint32(24, true);
  for (const at of [0, 1, length >> 2, length >> 1, length - 1]) {
    for (const bit of [0, 7]) {
      const b = bytes.slice();
      b[offset + at] ^= 1 << bit;
      await expectContainerError(openBytes(b), "index_checksum");
    }
  }
});

Deno.test("corruption: truncation at every 1/50th of the file fails, never with other errors", async () => {
  const { bytes } = await packed();
  const cuts = new Set<number>();
  for (let k = 0; k < 50; k++) cuts.add(Math.floor((k * bytes.length) / 50));
  cuts.add(bytes.length - 1);
  for (const cut of cuts) {
    const err = await readEverything(bytes.slice(0, cut));
    assert.ok(err !== null, `cut at ${cut} of ${bytes.length} read back without error`);
    // The index is the last thing in the file, so any cut loses (part of) it.
    isContainerError("truncated")(err);
  }
  await withTempDir(async (dir) => {
    for (const cut of [0, 64, bytes.length >> 1, bytes.length - 1]) {
      await Deno.writeFile(`${dir}/cut.tsr`, bytes.slice(0, cut));
      await expectContainerError(openContainerFile(`${dir}/cut.tsr`), "truncated");
    }
  });
});

Deno.test("corruption: a container whose chunks are cut but whose index survives reads as chunk_corrupt", async () => {
  const { bytes, index, src } = await packed();
  const chunks = index.tensors.flatMap((t) =>
    losslessOf(t).chunks.map((ch, i) => ({ t: t.name, i, offset: ch[0], stored: ch[1] }))
  );
  const victim = chunks[Math.floor(chunks.length / 2)];
  // Zero the back half of one chunk: as if a write stopped short but the index was written.
  const b = bytes.slice();
  b.fill(0, victim.offset + (victim.stored >> 1), victim.offset + victim.stored);
  const c = await openBytes(b);
  const t = tensorOf(c, victim.t);
  await expectContainerError(readChunk(c, t, victim.i), "chunk_corrupt");
  await expectContainerError(readRegion(c, t), "chunk_corrupt");
  await expectContainerError(readOriginal(c), "chunk_corrupt");
  const report = await verifyContainer(c);
  assert.ok(report.problems.some((p) => p.tensor === victim.t && p.chunk === victim.i));
  // Every other tensor still reads exactly.
  for (const other of c.index.tensors) {
    if (other.name === victim.t) continue;
    assert.deepEqual(await readRegion(c, other), sourceTensorBytes(src, index, other.name));
  }
});

// ---- single-bit flips in the chunk area --------------------------------------------------------

Deno.test("corruption: single-bit flips in chunks are chunk_corrupt, and verify names the chunk", async () => {
  const { bytes, index, src } = await packed();
  const chunks = index.tensors.flatMap((t) =>
    losslessOf(t).chunks.map((ch, i) => ({ t: t.name, i, offset: ch[0], stored: ch[1] }))
  );
  assert.ok(chunks.length >= 20, `${chunks.length} chunks`);
  const total = chunks.reduce((s, ch) => s + ch.stored, 0);
  const rng = new Rng(0xf11b);
  const flips: { chunk: typeof chunks[number]; at: number; bit: number }[] = [];
  // Every chunk's first byte (the plane count) and plane table, then uniform over all chunk bytes.
  for (const chunk of chunks) {
    flips.push({ chunk, at: chunk.offset, bit: rng.int(8) });
    flips.push({
      chunk,
      at: chunk.offset + 1 + rng.int(Math.min(chunk.stored - 1, 40)),
      bit: rng.int(8),
    });
    flips.push({ chunk, at: chunk.offset + chunk.stored - 1, bit: rng.int(8) });
  }
  for (let k = 0; k < 250; k++) {
    let pos = rng.int(total);
    const chunk = chunks.find((ch) => (pos < ch.stored ? true : ((pos -= ch.stored), false)))!;
    flips.push({ chunk, at: chunk.offset + pos, bit: rng.int(8) });
  }
  let silentlyCorrect = 0;
  console.log(`${flips.length} flips over ${chunks.length} chunks`);
  for (const { chunk, at, bit } of flips) {
    const label = `flip bit ${bit} at ${at} (tensor ${chunk.t} chunk ${chunk.i})`;
    const b = bytes.slice();
    b[at] ^= 1 << bit;
    const c = await openBytes(b);
    const t = tensorOf(c, chunk.t);
    // Reads check the decoded bytes only; a flip in bits the decoder ignores may decode
    // correctly, but a read must never hand back wrong bytes.
    let region: Uint8Array | null = null;
    try {
      region = await readRegion(c, t);
    } catch (e) {
      isContainerError("chunk_corrupt")(e);
      assert.match((e as Error).message, new RegExp(`chunk ${chunk.i}\\b`), label);
    }
    if (region !== null) {
      assert.deepEqual(region, sourceTensorBytes(src, index, chunk.t), label);
      silentlyCorrect++;
    } else {
      await expectContainerError(readOriginal(c), "chunk_corrupt");
      await expectContainerError(readChunk(c, t, chunk.i), "chunk_corrupt");
    }
    // Verification also checks the stored bytes, so it always finds the flip.
    const report = await verifyContainer(c);
    assert.deepEqual(
      report.problems.map((p) => [p.tensor, p.chunk]),
      [[chunk.t, chunk.i]],
      `${label}: ${JSON.stringify(report.problems)}`,
    );
  }
  console.log(`${silentlyCorrect} flips decoded to the right bytes anyway`);
  // Nearly every flip changes the decoded bytes.
  assert.ok(
    silentlyCorrect <= flips.length / 10,
    `${silentlyCorrect} of ${flips.length} flips decoded fine`,
  );
});

Deno.test("corruption: flips in the stored original header fail unpack, never with wrong bytes", async () => {
  const { bytes, index, src } = await packed();
  const h = index.source.header;
  let failed = 0;
  for (let at = 0; at < h.storedLength; at++) {
    const b = bytes.slice();
    b[h.offset + at] ^= 1 << (at & 7);
    const c = await openBytes(b);
    let rebuilt: Uint8Array | null = null;
    try {
      rebuilt = await readOriginal(c);
    } catch (e) {
      isContainerError(["digest_mismatch", "index_invalid"])(e);
    }
    const report = await verifyContainer(c);
    if (rebuilt !== null) {
      // Only a flip the zstd decoder ignores (a frame-header hint) may go unnoticed.
      assert.deepEqual(rebuilt, src, `flip at header byte ${at}`);
      assert.deepEqual(report.problems, []);
    } else {
      failed++;
      assert.deepEqual(
        report.problems.map((p) => [p.tensor, p.chunk]),
        [[null, null]],
        JSON.stringify(report.problems),
      );
    }
    // Tensor reads do not need the header.
    if (at % 16 === 0) { for (const t of c.index.tensors) await readRegion(c, t); }
  }
  assert.ok(failed >= h.storedLength - 4, `${failed} of ${h.storedLength} flips detected`);
});

Deno.test("corruption: unpackTo a corrupted container throws and leaves no file", async () => {
  const { bytes, index } = await packed();
  const t = index.tensors[0], [offset, stored] = losslessOf(t).chunks[0];
  const b = bytes.slice();
  b[offset + (stored >> 1)] ^= 0x01;
  await withTempDir(async (dir) => {
    const c = await openBytes(b);
    await expectContainerError(unpackFile(c, `${dir}/out.safetensors`), "chunk_corrupt");
    assert.deepEqual(listDir(dir), []);
  });
});

// ---- hand-edited indexes -----------------------------------------------------------------------

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test("corruption: a re-written plain index opens and reads back exactly (control)", async () => {
  const { bytes, src } = await packed();
  const b = editIndex(bytes, () => {});
  assert.equal(new DataView(b.buffer).getUint16(12, true), 0, "plain index codec");
  const c = await openBytes(b);
  assert.deepEqual(await readOriginal(c), src);
  assert.deepEqual((await verifyContainer(c)).problems, []);
});

Deno.test("corruption: version 1 containers read; a head and index of different versions do not", async () => {
  // Versions 1 and 2 align chunks to 64 bytes at least; `best` now writes alignment 1.
  const src = sampleFile();
  const { bytes: aligned } = await withTempDir((dir) =>
    packBytes(src, dir, { chunkBytes: 512, mode: "best", alignment: 64 })
  );
  const v1 = editIndex(aligned, (j: Json) => {
    j.version = 1;
  });
  new DataView(v1.buffer).setUint32(8, 1, true);
  const c = await openBytes(v1);
  assert.equal(c.index.version, 1);
  assert.deepEqual(await readOriginal(c), src);
  const { bytes } = await packed();
  assert.equal((await openBytes(bytes)).index.alignment, 1, "best packs with alignment 1");
  for (const version of [1, 2]) {
    const old = editIndex(bytes, (j: Json) => {
      j.version = version;
    });
    new DataView(old.buffer).setUint32(8, version, true);
    const e = await expectContainerError(openBytes(old), "index_invalid");
    assert.match(e.message, /alignment 1 is below 64/);
  }
  const headOnly = bytes.slice();
  new DataView(headOnly.buffer).setUint32(8, 1, true);
  const e = await expectContainerError(openBytes(headOnly), "index_invalid");
  assert.match(e.message, /index version 3 differs from the head's version 1/);
});

Deno.test("corruption: an unknown extra encoding kind is skipped (forward compatibility)", async () => {
  const { bytes, src } = await packed();
  const b = editIndex(bytes, (j: Json) => {
    for (const t of j.tensors) {
      t.encodings.unshift({ kind: "q8-lossy", scale: [1, 2, 3], chunks: "anything" });
    }
  });
  const c = await openBytes(b);
  assert.deepEqual(await readOriginal(c), src);
});

const INDEX_EDITS: [string, (j: Json) => unknown][] = [
  // (The plain index rewritten is longer than the zstd one, so "past the end" is far past it.)
  ["chunk offset past the end", (j) => {
    j.tensors[0].encodings[0].chunks[0][0] = 2 ** 40;
  }],
  ["chunk offset in the head", (j) => {
    j.tensors[0].encodings[0].chunks[0][0] = 0;
  }],
  ["chunk stored length past the end", (j) => {
    j.tensors[1].encodings[0].chunks[0][1] = 0xffffffff;
  }],
  ["misaligned chunk offset", (j) => {
    // `best` packs with alignment 1, where every offset is aligned: claim 4096 instead.
    j.alignment = 4096;
    j.tensors[1].encodings[0].chunks[1][0] += 1;
  }],
  ["chunk offset not an integer", (j) => {
    j.tensors[1].encodings[0].chunks[1][0] += 0.5;
  }],
  ["negative chunk offset", (j) => {
    j.tensors[1].encodings[0].chunks[1][0] = -64;
  }],
  ["chunk record as a string", (j) => {
    j.tensors[1].encodings[0].chunks[1] = "0,0,0,0,0";
  }],
  ["a chunk missing", (j) => {
    j.tensors[0].encodings[0].chunks.pop();
  }],
  ["a chunk too many", (j) => {
    const ch = j.tensors[0].encodings[0].chunks;
    ch.push([...ch[0]]);
  }],
  ["a chunk's raw length wrong", (j) => {
    j.tensors[0].encodings[0].chunks[0][2] += 2;
  }],
  ["a chunk's raw length over the 2^28 limit", (j) => {
    j.tensors[0].encodings[0].chunks[0][2] = 2 ** 28 + 2;
  }],
  ["tile size changed", (j) => {
    j.tensors[0].encodings[0].tile[0] += 1;
  }],
  ["unknown dtype", (j) => {
    j.tensors[0].dtype = "F4";
  }],
  ["dtype of another plane layout", (j) => {
    j.tensors[0].dtype = "F16"; // BF16 moves the sign bit; F16 does not
  }],
  ["dtype of another width", (j) => {
    j.tensors[0].dtype = "F32";
  }],
  ["shape not filling the bytes", (j) => {
    j.tensors[0].shape[0] += 1;
  }],
  ["negative dimension", (j) => {
    j.tensors[0].shape[0] = -1;
  }],
  ["tensor offsets leave a gap", (j) => {
    j.tensors[1].offsets[0] += 4;
  }],
  ["duplicate tensor name", (j) => {
    j.tensors[1].name = j.tensors[0].name;
  }],
  ["tensor in a layer the list omits", (j) => {
    j.tensors[0].layer = "nowhere";
  }],
  ["a layer listed twice", (j) => {
    j.layers.push(j.layers[0]);
  }],
  ["bad tensor sha256", (j) => {
    j.tensors[0].sha256 = "XYZ";
  }],
  ["no encodings", (j) => {
    j.tensors[0].encodings = [];
  }],
  ["only a foreign encoding", (j) => {
    j.tensors[0].encodings = [{ kind: "q8-lossy" }];
  }],
  ["lossless layout width wrong", (j) => {
    j.tensors[0].encodings[0].layout.width = 4;
  }],
  ["unknown root field", (j) => {
    j.extra = true;
  }],
  ["unknown tensor field", (j) => {
    j.tensors[2].dtypeAlias = "bool";
  }],
  ["unknown source field", (j) => {
    j.source.url = "https://example.com";
  }],
  ["unknown source.header field", (j) => {
    j.source.header.padding = 0;
  }],
  ["missing field", (j) => {
    delete j.chunkBytes;
  }],
  ["wrong format name", (j) => {
    j.format = "safetensors";
  }],
  ["index version 4", (j) => {
    j.version = 4;
  }],
  ["index version 1 under a version 3 head", (j) => {
    j.version = 1;
  }],
  ["unknown mode", (j) => {
    j.mode = "medium";
  }],
  ["alignment not a power of two", (j) => {
    j.alignment = 96;
  }],
  ["alignment too large", (j) => {
    j.alignment = 8192;
  }],
  ["alignment zero", (j) => {
    j.alignment = 0;
  }],
  ["source size disagrees", (j) => {
    j.source.size += 1;
  }],
  ["original header past the end", (j) => {
    j.source.header.offset = 2 ** 40;
  }],
  ["plain original header length mismatch", (j) => {
    j.source.header.codec = 0;
    j.source.header.length = j.source.header.storedLength + 1;
  }],
  ["unknown original header codec", (j) => {
    j.source.header.codec = 1;
  }],
  ["metadata not a string map", (j) => {
    j.metadata = { a: 1 };
  }],
  ["root is an array", (j) => [j]],
  ["root is null", () => null],
  ["not JSON", () => new TextEncoder().encode('{"format":"tessera",')],
  ["empty index", () => new Uint8Array(0)],
  ["not UTF-8", () => Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d)],
];

Deno.test("corruption: hand-edited indexes with a valid checksum are index_invalid", async () => {
  const { bytes } = await packed();
  for (const [label, edit] of INDEX_EDITS) {
    const b = editIndex(bytes, edit);
    const e = await expectContainerError(openBytes(b), "index_invalid").catch((err) => {
      throw new Error(`${label}: ${err.message}`);
    });
    assert.ok(e.message.length > 0, label);
  }
});

// The lossless encoding is matched by `otherEncodingSchema` ({kind: string}.passthrough()) when it
// fails the strict lossless schema, so its extra/missing fields slip past validation.
const LOSSLESS_EDITS: [string, (j: Json) => void][] = [
  ["unknown lossless encoding field", (j) => {
    j.tensors[0].encodings[0].compression = "zstd";
  }],
  ["lossless encoding without layout", (j) => {
    delete j.tensors[0].encodings[0].layout;
  }],
  ["lossless encoding without chunks", (j) => {
    delete j.tensors[0].encodings[0].chunks;
  }],
  ["lossless encoding without tile", (j) => {
    delete j.tensors[0].encodings[0].tile;
  }],
  ["chunk record too short", (j) => {
    j.tensors[1].encodings[0].chunks[1].pop();
  }],
  ["unknown layout field", (j) => {
    j.tensors[0].encodings[0].layout.endian = "little";
  }],
  ["lossless tile of zero", (j) => {
    j.tensors[0].encodings[0].tile = [0, 0];
  }],
];

Deno.test({
  name: "corruption: malformed lossless encodings are index_invalid",
  fn: async () => {
    const { bytes } = await packed();
    const failures: string[] = [];
    for (const [label, edit] of LOSSLESS_EDITS) {
      const b = editIndex(bytes, edit);
      await expectContainerError(openBytes(b), "index_invalid").catch((err) => {
        failures.push(`${label}: ${err.message}`);
      });
    }
    assert.deepEqual(failures, []);
  },
});

Deno.test("corruption: index edits that keep the index valid are caught when reading", async () => {
  const { bytes, src } = await packed();
  // Reads check only the decoded bytes' checksum; verify checks the stored bytes' too.
  const storedOnly = await openBytes(editIndex(bytes, (j: Json) => {
    const ch = j.tensors[1].encodings[0].chunks[0];
    ch[3] = (ch[3] ^ 1) >>> 0;
  }));
  await readChunk(storedOnly, storedOnly.index.tensors[1], 0);
  assert.deepEqual(
    (await verifyContainer(storedOnly)).problems.map((p) => [p.tensor, p.chunk]),
    [[storedOnly.index.tensors[1].name, 0]],
  );
  const edits: [string, (j: Json) => void][] = [
    ["raw checksum", (j) => {
      const ch = j.tensors[1].encodings[0].chunks[0];
      ch[4] = (ch[4] ^ 1) >>> 0;
    }],
    ["stored length longer", (j) => {
      j.tensors[1].encodings[0].chunks[0][1] += 1;
    }],
    ["stored length shorter", (j) => {
      j.tensors[1].encodings[0].chunks[0][1] -= 1;
    }],
    ["offset moved to another chunk", (j) => {
      const ch = j.tensors[1].encodings[0].chunks;
      ch[0][0] = ch[1][0];
    }],
  ];
  for (const [label, edit] of edits) {
    let c;
    try {
      c = await openBytes(editIndex(bytes, edit));
    } catch (e) {
      // Cross-field rule 12 refuses a chunk that now overlaps the next one before any read.
      isContainerError("index_invalid")(e);
      continue;
    }
    const t = c.index.tensors[1];
    await expectContainerError(readChunk(c, t, 0), "chunk_corrupt").catch((e) => {
      throw new Error(`${label}: ${e.message}`);
    });
    const report = await verifyContainer(c);
    assert.ok(report.problems.some((p) => p.tensor === t.name && p.chunk === 0), label);
  }
  // A wrong tensor digest is found by verify; unpack checks the whole file's digest only, and the
  // rebuilt file is still right.
  const c = await openBytes(editIndex(bytes, (j: Json) => {
    j.tensors[2].sha256 = "0".repeat(64);
  }));
  const report = await verifyContainer(c);
  assert.deepEqual(report.problems.map((p) => [p.tensor, p.chunk]), [[
    c.index.tensors[2].name,
    null,
  ]]);
  await withTempDir(async (dir) => {
    await unpackFile(c, `${dir}/x`);
    assert.deepEqual(await Deno.readFile(`${dir}/x`), src);
  });
  // A wrong file digest likewise.
  const c2 = await openBytes(editIndex(bytes, (j: Json) => {
    j.source.sha256 = "f".repeat(64);
  }));
  assert.equal((await verifyContainer(c2)).problems.length, 1);
  await withTempDir(async (dir) => {
    await expectContainerError(unpackFile(c2, `${dir}/x`), "digest_mismatch");
    assert.deepEqual(listDir(dir), []);
  });
});

Deno.test("corruption: readIndexJson helper agrees with openContainer", async () => {
  const { bytes } = await packed();
  const c = await openBytes(bytes);
  assert.deepEqual(readIndexJson(bytes), c.index);
});

// ---- malformed safetensors inputs --------------------------------------------------------------

const MALFORMED: [string, Uint8Array][] = [
  ["empty file", new Uint8Array(0)],
  ["four bytes", Uint8Array.of(1, 2, 3, 4)],
  ["header length past the end", rawSafetensors("{}").slice(0, 9)],
  [
    "huge header length",
    (() => {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setBigUint64(0, 1n << 40n, true);
      return b;
    })(),
  ],
  ["not JSON", rawSafetensors("{nope}")],
  ["not an object", rawSafetensors("[1, 2]")],
  ["trailing garbage", rawSafetensors("{}x")],
  ["unknown dtype", rawSafetensors('{"t":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}', 1)],
  ["size mismatch", rawSafetensors('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', 4)],
  [
    "data section too long",
    rawSafetensors('{"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', 5),
  ],
  [
    "data section too short",
    rawSafetensors('{"t":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}', 4),
  ],
  [
    "overlapping tensors",
    rawSafetensors(
      '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}',
      6,
    ),
  ],
  [
    "duplicate key",
    rawSafetensors(
      '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
      1,
    ),
  ],
  ["bad metadata", rawSafetensors('{"__metadata__":{"a":1}}')],
  ["invalid UTF-8", rawSafetensors(Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d))],
];

Deno.test("corruption: packing malformed safetensors throws SafetensorsError and leaves no files", async () => {
  await withTempDir(async (dir) => {
    for (const [label, bytes] of MALFORMED) {
      await Deno.writeFile(`${dir}/in.safetensors`, bytes);
      await assert.rejects(
        packFile(`${dir}/in.safetensors`, `${dir}/out.tsr`),
        (e) => e instanceof SafetensorsError,
        label,
      );
      await assert.rejects(
        packReader(bufferReader(bytes), `${dir}/out2.tsr`),
        (e) => e instanceof SafetensorsError,
        label,
      );
      assert.deepEqual(listDir(dir), ["in.safetensors"], `${label}: no output or temp file`);
    }
  });
});

Deno.test("corruption: invalid pack options throw RangeError and leave no files", async () => {
  const src = buildSafetensors([{ name: "w", dtype: "F32", shape: [4, 4] }]);
  await withTempDir(async (dir) => {
    for (
      const options of [
        { alignment: 0 },
        { alignment: 1.5 },
        { alignment: 96 },
        { alignment: 8192 },
        { chunkBytes: 63 },
        { chunkBytes: Number.NaN },
        { chunkBytes: 1000.5 },
        { chunkBytes: 2 ** 26 + 1 },
      ]
    ) {
      await assert.rejects(packReader(bufferReader(src), `${dir}/o.tsr`, options), RangeError);
      assert.deepEqual(listDir(dir), []);
    }
  });
});

Deno.test("corruption: a failed pack keeps an existing output file intact", async () => {
  await withTempDir(async (dir) => {
    const good = buildSafetensors([{ name: "w", dtype: "BF16", shape: [8, 8] }]);
    const { bytes } = await packBytes(good, dir, {}, "out.tsr");
    await assert.rejects(
      packReader(bufferReader(rawSafetensors("{bad")), `${dir}/out.tsr`),
      SafetensorsError,
    );
    assert.deepEqual(await Deno.readFile(`${dir}/out.tsr`), bytes);
    assert.deepEqual(listDir(dir), ["out.tsr"]);
  });
});

Deno.test("corruption: every dtype's chunks reject a flipped byte", async () => {
  // One small tensor per dtype, so the per-dtype decode paths (plane merges) are all exercised.
  const rng = new Rng(5);
  const src = buildSafetensors(
    DTYPES.map((dtype) => ({
      name: dtype,
      dtype,
      shape: [6, 11],
      data: dtypeData(dtype, 66, rng),
    })),
  );
  await withTempDir(async (dir) => {
    const { bytes, index } = await packBytes(src, dir, { chunkBytes: 64 });
    for (const t of index.tensors) {
      for (const [i, [offset, stored]] of losslessOf(t).chunks.entries()) {
        const b = bytes.slice();
        b[offset + rng.int(stored)] ^= 1 << rng.int(8);
        const c: Container = await openBytes(b);
        const report = await verifyContainer(c);
        assert.deepEqual(report.problems.map((p) => [p.tensor, p.chunk]), [[t.name, i]]);
        try {
          assert.deepEqual(
            await readRegion(c, tensorOf(c, t.name)),
            sourceTensorBytes(src, index, t.name),
          );
        } catch (e) {
          isContainerError("chunk_corrupt")(e);
        }
      }
    }
  });
});
