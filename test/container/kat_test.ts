/**
 * Known-answer tests: the committed containers test/fixtures/kat/kat.tsr (`best`), kat.fast.tsr
 * (`fast`, with a Huffman plane) and kat.quant.tsr (FP8, INT8 and packed INT4 tensors in adaptive
 * planes), made by test/fixtures/kat/make_kat.ts, must decode to the committed bytes, re-packing
 * must reproduce them byte for byte, and a decoder written from docs/FORMAT.md alone, sharing no
 * code with codec/ or src/, must decode them too. The same holds
 * for the variants containers (variants.tsr, variants.edge.tsr, made by make_kat_variants.ts),
 * one tensor of every variant layout each.
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ZSTDDecoder } from "zstddec";
import { fullRect, readRegion, streamOriginal } from "../../src/container/read.ts";
import type { Backends } from "../../src/container/backends.ts";
import { portableBackends } from "../../src/container/portable_backends.ts";
import { openContainer } from "../../src/container/open.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { loadLibzstd } from "../../src/codec_native/libzstd.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { openFileReader } from "../../src/io/random_access.ts";
import { readChunk } from "../helpers/container.ts";
import { verifyContainer } from "../../src/container/verify.ts";
import { packFile } from "../../src/pack/write.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { decodeChunk } from "../../codec/chunk_decode.ts";
import { CodecError } from "../../codec/errors.ts";
import { loadPortableZstd, portableZstdDecompress } from "../../codec/zstd_decode.ts";
import {
  buildKatContextSafetensors,
  buildKatQuantSafetensors,
  buildKatSafetensors,
  KAT_CONTEXT_PACK_OPTIONS,
  KAT_FAST_PACK_OPTIONS,
  KAT_PACK_OPTIONS,
  KAT_QUANT_PACK_OPTIONS,
} from "../fixtures/kat/make_kat.ts";
import {
  buildKatVariantsSafetensors,
  KAT_VARIANT_SPECS,
  writeKatVariants,
} from "../fixtures/kat/make_kat_variants.ts";
import { readVariantRegion } from "../../src/container/variant_read.ts";
import { encodeChunk } from "../../codec/chunk_encode.ts";
import { adaptiveEncode } from "../../codec/adaptive/encode.ts";
import { contextEncode } from "../../codec/context/encode.ts";
import { topValues } from "../../codec/adaptive/choose.ts";

const DIR = new URL("../fixtures/kat/", import.meta.url).pathname;

// The FORMAT.md decoder's own Zstandard: libzstd's reference decoder, used directly.
const zstdReference = new ZSTDDecoder();
await zstdReference.init();
await loadPortableZstd();

interface Expected {
  pack: typeof KAT_PACK_OPTIONS;
  safetensors: { size: number; sha256: string };
  tsr: { size: number; sha256: string };
  fast: { pack: typeof KAT_FAST_PACK_OPTIONS; tsr: { size: number; sha256: string } };
  tensors: Record<string, string>;
  quant: {
    pack: typeof KAT_QUANT_PACK_OPTIONS;
    safetensors: { size: number; sha256: string };
    tsr: { size: number; sha256: string };
    tensors: Record<string, string>;
  };
  context: {
    pack: typeof KAT_CONTEXT_PACK_OPTIONS;
    safetensors: { size: number; sha256: string };
    tsr: { size: number; sha256: string };
    tensors: Record<string, string>;
  };
}

const expected: Expected = JSON.parse(Deno.readTextFileSync(`${DIR}kat.json`));
const katSafetensors = Deno.readFileSync(`${DIR}kat.safetensors`);
const quantSafetensors = Deno.readFileSync(`${DIR}kat.quant.safetensors`);
const contextSafetensors = Deno.readFileSync(`${DIR}kat.context.safetensors`);

/**
 * Each committed container: its file name, bytes, expected digest, pack options, the safetensors
 * file it was packed from and that file's tensors, and its chunk count.
 */
const CONTAINERS = [
  {
    file: "kat.tsr",
    bytes: Deno.readFileSync(`${DIR}kat.tsr`),
    want: expected.tsr,
    pack: KAT_PACK_OPTIONS,
    source: "kat.safetensors",
    original: katSafetensors,
    tensors: expected.tensors,
    chunks: 11,
  },
  {
    file: "kat.fast.tsr",
    bytes: Deno.readFileSync(`${DIR}kat.fast.tsr`),
    want: expected.fast.tsr,
    pack: KAT_FAST_PACK_OPTIONS,
    source: "kat.safetensors",
    original: katSafetensors,
    tensors: expected.tensors,
    chunks: 11,
  },
  {
    file: "kat.quant.tsr",
    bytes: Deno.readFileSync(`${DIR}kat.quant.tsr`),
    want: expected.quant.tsr,
    pack: KAT_QUANT_PACK_OPTIONS,
    source: "kat.quant.safetensors",
    original: quantSafetensors,
    tensors: expected.quant.tensors,
    chunks: 13,
  },
  {
    file: "kat.context.tsr",
    bytes: Deno.readFileSync(`${DIR}kat.context.tsr`),
    want: expected.context.tsr,
    pack: KAT_CONTEXT_PACK_OPTIONS,
    source: "kat.context.safetensors",
    original: contextSafetensors,
    tensors: expected.context.tensors,
    chunks: 2,
  },
];

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : Math.min(a.length, b.length);
}

Deno.test("kat: committed files match kat.json and make_kat.ts", () => {
  assert.equal(katSafetensors.length, expected.safetensors.size);
  assert.equal(sha256Hex(katSafetensors), expected.safetensors.sha256);
  for (const { bytes, want } of CONTAINERS) {
    assert.equal(bytes.length, want.size);
    assert.equal(sha256Hex(bytes), want.sha256);
  }
  assert.deepEqual(expected.pack, KAT_PACK_OPTIONS);
  assert.deepEqual(expected.fast.pack, KAT_FAST_PACK_OPTIONS);
  assert.deepEqual(expected.quant.pack, KAT_QUANT_PACK_OPTIONS);
  assert.equal(hex(buildKatSafetensors()), hex(katSafetensors));
  assert.equal(quantSafetensors.length, expected.quant.safetensors.size);
  assert.equal(sha256Hex(quantSafetensors), expected.quant.safetensors.sha256);
  assert.equal(hex(buildKatQuantSafetensors()), hex(quantSafetensors));
  assert.deepEqual(expected.context.pack, KAT_CONTEXT_PACK_OPTIONS);
  assert.equal(contextSafetensors.length, expected.context.safetensors.size);
  assert.equal(sha256Hex(contextSafetensors), expected.context.safetensors.sha256);
  assert.equal(hex(buildKatContextSafetensors()), hex(contextSafetensors));
});

for (
  const { file, bytes: katBytes, pack, source, original: katOriginal, tensors, chunks }
    of CONTAINERS
) {
  Deno.test(`kat: ${file} decodes every tensor and the whole original file`, async () => {
    // Every backend combination decodes the same bytes: the native kernel and libzstd, the
    // TypeScript codec with libzstd, and the portable set a browser gets.
    const native = nativeBackends();
    const sets: Backends[] = [native, { ...native, kernel: undefined }, portableBackends];
    for (const backends of sets) {
      const c = await openContainer(await openFileReader(`${DIR}${file}`), backends);
      try {
        assert.deepEqual(c.index.tensors.map((t) => t.name), Object.keys(tensors));
        for (const t of c.index.tensors) {
          const bytes = await readRegion(c, t, fullRect(t));
          assert.equal(hex(bytes), tensors[t.name], `${backends.name}: tensor ${t.name}`);
          assert.equal(sha256Hex(bytes), t.sha256, `tensor ${t.name} sha256`);
        }
        const parts: Uint8Array[] = [];
        for await (const part of streamOriginal(c)) parts.push(part.slice());
        const original = concat(parts);
        assert.equal(firstDifference(original, katOriginal), -1);
        assert.equal(sha256Hex(original), c.index.source.sha256);
        const report = await verifyContainer(c);
        assert.deepEqual(report.problems, []);
        assert.equal(report.chunks, chunks);
      } finally {
        c.source.close();
      }
    }
  });

  Deno.test(`kat: re-packing ${source} reproduces ${file} byte for byte`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "tessera_kat_" });
    try {
      await packFile(`${DIR}${source}`, `${dir}/${file}`, pack);
      const repacked = await Deno.readFile(`${dir}/${file}`);
      const at = firstDifference(repacked, katBytes);
      assert.equal(
        at,
        -1,
        `re-packed container (${repacked.length} B, sha256 ${sha256Hex(repacked)}) differs from ` +
          `${file} (${katBytes.length} B) first at byte ${at}: the packer is non-deterministic or ` +
          "the format changed. If intended, bump docs/FORMAT.md and re-run make_kat.ts.",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`kat: the codec never returns wrong bytes for a flipped bit of ${file}`, async () => {
    // The raw XXH32 must catch what the structure checks let through; stored checksums are off.
    const c = await openContainerFile(`${DIR}${file}`);
    try {
      for (const t of c.index.tensors) {
        const l = losslessOf(t);
        for (let i = 0; i < l.chunks.length; i++) {
          const [offset, storedLength, rawLength, storedXxh32, rawXxh32] = l.chunks[i];
          const tile = await readChunk(c, t, i);
          const entry = { storedLength, rawLength, storedXxh32, rawXxh32 };
          // Every byte of small chunks; every 7th of the context container's 5-8 KB ones.
          for (let at = 0; at < storedLength; at += storedLength > 2000 ? 7 : 1) {
            for (let bit = 0; bit < 8; bit++) {
              const bad = katBytes.slice(offset, offset + storedLength);
              bad[at] ^= 1 << bit;
              for (const zstdDecompress of [loadLibzstd()!, portableZstdDecompress]) {
                const out = new Uint8Array(rawLength);
                try {
                  decodeChunk(bad, entry, l.layout, out, { zstdDecompress });
                } catch (e) {
                  assert.ok(e instanceof CodecError, `${t.name}#${i} byte ${at}: ${e}`);
                  continue;
                }
                assert.equal(hex(out), hex(tile), `${t.name}#${i} byte ${at} bit ${bit}`);
              }
            }
          }
        }
      }
    } finally {
      c.source.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// A decoder written from docs/FORMAT.md alone: no import from codec/ or src/. Kept naive on
// purpose; it checks what the specification says a reader MUST check, and nothing is optimised.

class SpecError extends Error {}

function must(ok: boolean, what: string): asserts ok {
  if (!ok) throw new SpecError(what);
}

function u32(b: Uint8Array, p: number): number {
  must(p + 4 <= b.length, "u32 past end");
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

/** FORMAT.md "Zstandard frames": whole frames, each declaring its size, `size` bytes in all. */
function zstd(src: Uint8Array, size: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let p = 0, total = 0;
  do {
    const begin = p;
    must(src.length - p >= 6 && u32(src, p) === 0xfd2fb528, "zstd magic");
    const fhd = src[p + 4], fcsFlag = fhd >> 6, single = (fhd >> 5) & 1;
    must(((fhd >> 3) & 1) === 0 && (fhd & 3) === 0, "zstd reserved bit / dictionary");
    const fcsBytes = [single, 2, 4, 8][fcsFlag];
    must(fcsBytes > 0, "zstd content size absent");
    p += 5 + (single ? 0 : 1);
    must(p + fcsBytes <= src.length, "zstd header");
    let declared = 0;
    for (let i = fcsBytes - 1; i >= 0; i--) declared = declared * 256 + src[p + i];
    declared += fcsBytes === 2 ? 256 : 0;
    for (p += fcsBytes;;) {
      must(p + 3 <= src.length, "zstd block header");
      const bh = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16), type = (bh >> 1) & 3;
      must(type !== 3, "zstd reserved block type");
      p += 3 + (type === 1 ? 1 : bh >>> 3);
      must(p <= src.length, "zstd block");
      if (bh & 1) break;
    }
    p += ((fhd >> 2) & 1) * 4;
    must(p <= src.length, "zstd checksum");
    const out = zstdReference.decode(src.subarray(begin, p), declared);
    must(out.length === declared, "zstd frame size");
    parts.push(out);
    total += declared;
  } while (p < src.length);
  must(total === size, "zstd content size");
  return concat(parts);
}

function xxh32(b: Uint8Array): number {
  const P1 = 2654435761, P2 = 2246822519, P3 = 3266489917, P4 = 668265263, P5 = 374761393;
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  const mul = (a: number, c: number) => Math.imul(a, c) >>> 0;
  const round = (acc: number, lane: number) => mul(rotl((acc + mul(lane, P2)) >>> 0, 13), P1);
  let i = 0, h: number;
  if (b.length >= 16) {
    const v = [(P1 + P2) >>> 0, P2, 0, (0 - P1) >>> 0];
    for (; i + 16 <= b.length; i += 16) {
      for (let k = 0; k < 4; k++) v[k] = round(v[k], u32(b, i + 4 * k));
    }
    h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) >>> 0;
  } else {
    h = P5;
  }
  h = (h + b.length) >>> 0;
  for (; i + 4 <= b.length; i += 4) h = mul(rotl((h + mul(u32(b, i), P3)) >>> 0, 17), P4);
  for (; i < b.length; i++) h = mul(rotl((h + mul(b[i], P5)) >>> 0, 11), P1);
  h = mul(h ^ (h >>> 15), P2);
  h = mul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A FORMAT.md frequency table: its symbols, their frequencies and starts, and where it ends. */
interface SpecTable {
  symbols: number[];
  freq: Map<number, number>;
  start: Map<number, number>;
  end: number;
}

/** FORMAT.md "Frequency tables": the table at `p`. */
function specTable(payload: Uint8Array, p: number): SpecTable {
  must(payload.length >= p + 2, "table header");
  const at = p;
  const mode = payload[at] & 15, k = payload[at] >> 4, count = payload[at + 1] + 1;
  must(mode <= 1 && k <= 12 && count >= 2, "table mode/k/count");
  const symbols: number[] = [];
  p += 2;
  if (mode === 0) {
    for (let i = 0; i < count; i++, p++) {
      must(p < payload.length && (i === 0 || payload[p] > symbols[i - 1]), "symbol list");
      symbols.push(payload[p]);
    }
  } else {
    must(p + 32 <= payload.length, "bitmap");
    for (let s = 0; s < 256; s++) if ((payload[p + (s >> 3)] >> (s & 7)) & 1) symbols.push(s);
    must(symbols.length === count, "bitmap count");
    p += 32;
  }
  let bit = p * 8;
  const next = () => {
    must(bit < payload.length * 8, "table bits");
    const v = (payload[bit >> 3] >> (bit & 7)) & 1;
    bit++;
    return v;
  };
  const freq = new Map<number, number>();
  let sum = 0;
  for (let i = 0; i < count - 1; i++) {
    let q = 0;
    while (next() === 1) must(++q <= 4096 >> k, "unary");
    let r = 0;
    for (let b = 0; b < k; b++) r |= next() << b;
    sum += (q << k) + r + 1;
    must(sum < 4096, "sum");
    freq.set(symbols[i], (q << k) + r + 1);
  }
  freq.set(symbols[count - 1], 4096 - sum);
  while (bit % 8 !== 0) must(next() === 0, "padding");
  p = bit / 8;
  const start = new Map<number, number>();
  let cum = 0;
  for (const s of [...symbols].sort((a, b) => a - b)) start.set(s, cum), cum += freq.get(s)!;
  return { symbols, freq, start, end: p };
}

/** FORMAT.md "Frequency tables" and "rANS streams". */
function specRans(payload: Uint8Array, n: number): Uint8Array {
  const table = specTable(payload, 0);
  return specLanes(payload, table.end, n, () => table, "rANS");
}

/** FORMAT.md "Context rANS": codec 2 with a table per class of a context byte. */
function specContext(payload: Uint8Array, n: number, above?: Uint8Array): Uint8Array {
  must(payload.length >= 2, "context header");
  const source = payload[0], shift = payload[1];
  must(source <= 2 && shift <= 7, "context source/shift");
  must(source !== 2 || above !== undefined, "context plane above");
  let p = 2, cols = 0;
  if (source === 1) {
    must(payload.length >= p + 4, "context cols");
    cols = u32(payload, p);
    must(cols >= 4, "context cols under 4");
    p += 4;
  }
  must(payload.length >= p + 2, "context classes");
  const K = payload[p], m = payload[p + 1];
  p += 2;
  must(K >= 2 && K <= 8, "context class count");
  const classOf = new Map<number, number>();
  for (let i = 0; i < m; i++, p += 2) {
    must(p + 2 <= payload.length, "context pairs");
    const key = payload[p], c = payload[p + 1];
    must(key < 256 >> shift && (i === 0 || key > payload[p - 2]), "context key order");
    must(c >= 1 && c < K, "context class");
    classOf.set(key, c);
  }
  const tables: SpecTable[] = [];
  for (let c = 0; c < K; c++) tables.push(specTable(payload, p)), p = tables[c].end;
  return specLanes(payload, p, n, (i, out) => {
    const b = source === 0
      ? (i >= 4 ? out[i - 4] : 0)
      : source === 1
      ? (i >= cols ? out[i - cols] : 0)
      : above![i];
    return tables[classOf.get(b >> shift) ?? 0];
  }, "context");
}

/**
 * FORMAT.md "rANS streams": four lanes from `p` (their states, then 16-bit words), symbol `i` on
 * lane `i mod 4` under the table `tableAt` picks for it (`out` holds the symbols before it).
 */
function specLanes(
  payload: Uint8Array,
  p: number,
  n: number,
  tableAt: (i: number, out: Uint8Array) => SpecTable,
  what: string,
): Uint8Array {
  const x: number[] = [];
  for (let lane = 0; lane < 4; lane++, p += 4) {
    must(p + 4 <= payload.length, `${what} states`);
    x.push(u32(payload, p));
    must(x[lane] >= 2 ** 15 && x[lane] < 2 ** 31, "initial state");
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const { symbols, freq, start } = tableAt(i, out);
    const lane = i % 4, slot = x[lane] % 4096;
    const s = symbols.find((t) => start.get(t)! <= slot && slot < start.get(t)! + freq.get(t)!)!;
    out[i] = s;
    x[lane] = freq.get(s)! * Math.floor(x[lane] / 4096) + slot - start.get(s)!;
    if (x[lane] < 2 ** 15) {
      must(p + 2 <= payload.length, "word");
      x[lane] = x[lane] * 65536 + payload[p] + payload[p + 1] * 256;
      p += 2;
    }
  }
  must(p === payload.length && x.every((v) => v === 2 ** 15), `${what} end conditions`);
  return out;
}

/** FORMAT.md "Huffman": canonical codes walked a bit at a time, four streams. */
function specHuffman(payload: Uint8Array, n: number): Uint8Array {
  must(payload.length >= 1, "Huffman M");
  const m = payload[0], lengthBytes = Math.floor(m / 2) + 1;
  must(1 + lengthBytes + 12 <= payload.length, "Huffman lengths and sizes");
  const lengths: number[] = [];
  for (let s = 0; s <= m; s++) lengths.push((payload[1 + Math.floor(s / 2)] >> (4 * (s % 2))) & 15);
  must(m % 2 === 1 || payload[lengthBytes] >> 4 === 0, "Huffman nibble padding");
  const present = lengths.map((l, s) => ({ l, s })).filter((x) => x.l > 0);
  must(lengths[m] > 0 && present.length >= 2 && present.every((x) => x.l <= 11), "lengths");
  must(present.reduce((sum, x) => sum + 2 ** (11 - x.l), 0) === 2048, "complete code");
  // Canonical: sorted by (length, symbol), each code the previous plus one, shifted on growth.
  present.sort((a, b) => a.l - b.l || a.s - b.s);
  const codes = new Map<string, number>();
  let code = 0, prev = present[0].l;
  for (const [k, x] of present.entries()) {
    if (k > 0) code = (code + 1) * 2 ** (x.l - prev);
    prev = x.l;
    codes.set(code.toString(2).padStart(x.l, "0"), x.s);
  }
  let p = 1 + lengthBytes;
  const sizes = [u32(payload, p), u32(payload, p + 4), u32(payload, p + 8)];
  p += 12;
  const starts = [p, p + sizes[0], p + sizes[0] + sizes[1], p + sizes[0] + sizes[1] + sizes[2]];
  must(starts[3] <= payload.length, "Huffman stream sizes");
  const ends = [starts[1], starts[2], starts[3], payload.length];
  const bit = [0, 0, 0, 0].map((_, k) => starts[k] * 8);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 4;
    let word = "";
    while (!codes.has(word)) {
      must(bit[k] < ends[k] * 8 && word.length < 11, `stream ${k} ends early`);
      word += (payload[bit[k] >> 3] >> (bit[k] & 7)) & 1;
      bit[k]++;
    }
    out[i] = codes.get(word)!;
  }
  for (let k = 0; k < 4; k++) {
    must(Math.ceil((bit[k] - starts[k] * 8) / 8) === ends[k] - starts[k], `stream ${k} length`);
    for (let b = bit[k]; b < ends[k] * 8; b++) {
      must(((payload[b >> 3] >> (b & 7)) & 1) === 0, "pad");
    }
  }
  return out;
}

/**
 * FORMAT.md "Adaptive planes": nibble symbols under adaptive tables, lane by lane. `above` is the
 * decoded plane p + 1, for the mantissa model.
 */
function specAdaptive(payload: Uint8Array, n: number, above?: Uint8Array): Uint8Array {
  must(payload.length >= 6, "adaptive header");
  const model = payload[0], flags = payload[1], C = flags & 3, V = (flags >> 2) & 3;
  const log2L = (flags >> 4) & 3, cols = u32(payload, 2);
  must(model <= 3, "adaptive model");
  must(C <= 2 && log2L <= 2 && flags >> 6 === 0 && cols >= 1, "adaptive flags / cols");
  must(C !== 1 || cols <= 65536, "adaptive columns");
  must(model !== 2 || (C === 0 && V <= 1), "mantissa rules");
  must(model !== 1 && model !== 3 || V === 0, "variant");
  let p = 6, eb = 1;
  const v: number[] = [];
  if (model === 3) {
    must(p < payload.length, "eb");
    eb = payload[p++];
    must(eb >= 1 && eb <= 8, "eb range");
  }
  if (model === 1 || model === 2) {
    must(p < payload.length, "R");
    const R = payload[p++];
    must(R >= 1 && R <= 15 && p + R <= payload.length, "R range");
    for (let i = 0; i < R; i++) v.push(payload[p + i]);
    must(new Set(v).size === R, "values distinct");
    p += R;
  }
  must(model !== 2 || (above !== undefined && above.length === n), "plane above");
  const L = 2 ** log2L;
  const X: number[] = [], pos: number[] = [], end: number[] = [];
  let s = p + 8 * L - 4;
  for (let k = 0; k < L; k++) {
    X.push(u32(payload, p + 4 * k));
    must(X[k] >= 2 ** 23 && X[k] < 2 ** 31, "lane state");
    const len = k < L - 1 ? u32(payload, p + 4 * L + 4 * k) : payload.length - s;
    must(len >= 0 && s + len <= payload.length, "lane stream length");
    pos.push(s), end.push(s + len), s += len;
  }
  // 34 tables per lane, c[0..16] and an update count each; history per lane.
  const tables = Array.from(
    { length: L },
    () =>
      Array.from({ length: 34 }, () => ({
        c: Array.from({ length: 17 }, (_, j) => 2048 * j),
        u: 0,
      })),
  );
  const last = Array.from({ length: L }, () => 16);
  // Column averages, kept only for the column context (cols may be anything up to 2^32 - 1).
  const avg: (number | null)[][] = Array.from(
    { length: L },
    () => C === 1 ? new Array(cols).fill(null) : [],
  );
  const b = (k: number) => Math.floor((k * n) / L);
  const col = Array.from({ length: L }, (_, k) => Math.floor(b(k) / eb) % cols);
  const sub = Array.from({ length: L }, (_, k) => b(k) % eb);
  const decode = (k: number, c: number[] | null): number => {
    const cdf = c ?? Array.from({ length: 17 }, (_, j) => 2048 * j);
    const slot = X[k] % 32768;
    let sym = 0;
    while (!(cdf[sym] <= slot && slot < cdf[sym + 1])) sym++;
    X[k] = (cdf[sym + 1] - cdf[sym]) * Math.floor(X[k] / 32768) + slot - cdf[sym];
    while (X[k] < 2 ** 23) {
      must(pos[k] < end[k], "lane stream ends early");
      X[k] = X[k] * 256 + payload[pos[k]++];
    }
    return sym;
  };
  const table = (k: number, t: number): number => {
    const tb = tables[k][t], sym = decode(k, tb.c);
    const rate = 4 + Math.floor(tb.u / 16);
    tb.u = Math.min(tb.u + 1, 64);
    for (let j = 1; j <= 15; j++) {
      const target = j <= sym ? j : 32752 + j;
      tb.c[j] = tb.c[j] + Math.floor((target - tb.c[j]) / 2 ** rate);
    }
    return sym;
  };
  const cls = (k: number): number => {
    if (C === 0) return 0;
    if (C === 2) return last[k];
    const a = avg[k][col[k]];
    return a === null ? 16 : Math.min(15, (a + 8) >> 4);
  };
  const record = (k: number, h: number) => {
    if (C === 1) {
      const a = avg[k][col[k]];
      avg[k][col[k]] = a === null ? 16 * h : a + Math.floor((16 * h - a) / 8);
    } else last[k] = h;
  };
  const inverse = (x: number): number => {
    for (let byte = 0; byte < 256; byte++) {
      const t = V === 1
        ? ((byte & 0x78) << 1) | ((byte & 0x80) >> 4) | (byte & 0x07)
        : V === 2
        ? ((byte & 0x7c) << 1) | ((byte & 0x80) >> 5) | (byte & 0x03)
        : V === 3
        ? ((byte << 1) ^ (byte >= 128 ? 0xff : 0)) & 0xff
        : byte;
      if (t === x) return byte;
    }
    throw new SpecError("transform");
  };
  const out = new Uint8Array(n);
  const longest = Math.max(...Array.from({ length: L }, (_, k) => b(k + 1) - b(k)), 0);
  for (let t = 0; t < longest; t++) {
    for (let k = 0; k < L; k++) {
      const j = b(k) + t;
      if (j >= b(k + 1)) continue;
      if (model === 0) {
        const h = table(k, cls(k)), l = table(k, 17 + h);
        record(k, h);
        out[j] = model === 0 ? inverse(16 * h + l) : 0;
      } else if (model === 1) {
        const r = table(k, cls(k));
        if (r === 15) {
          const h = table(k, 17);
          out[j] = 16 * h + table(k, 18 + h);
        } else {
          must(r < v.length, "rank past the values");
          out[j] = v[r];
        }
        record(k, r);
      } else if (model === 2) {
        const i = v.indexOf(above![j]), h = table(k, i >= 0 ? i : 15);
        out[j] = 16 * h + (V === 1 ? table(k, 16 + h) : decode(k, null));
      } else {
        const a = table(k, cls(k));
        record(k, a);
        const bb = table(k, cls(k));
        record(k, bb);
        out[j] = a + 16 * bb;
      }
      if (model !== 3) col[k] = (col[k] + 1) % cols;
      else if (++sub[k] === eb) sub[k] = 0, col[k] = (col[k] + 1) % cols;
    }
  }
  for (let k = 0; k < L; k++) must(pos[k] === end[k] && X[k] === 2 ** 23, "lane end conditions");
  return out;
}

/** FORMAT.md "Chunks", "Byte planes" and "Packed INT4": a chunk to its tile's raw bytes. */
function specChunk(stored: Uint8Array, layout: Json, raw: number) {
  const width = layout.width, signMoved = layout.signMoved;
  const P = layout.packing === "int4" ? 1 : width, n = raw / P;
  must(stored[0] === P, "plane count");
  let p = 1 + 5 * P;
  const payloads: [number, Uint8Array][] = [];
  for (let i = 0; i < P; i++) {
    const codec = stored[1 + 5 * i], len = u32(stored, 2 + 5 * i);
    must(p + len <= stored.length, "plane length");
    payloads.push([codec, stored.subarray(p, p + len)]);
    p += len;
  }
  must(p === stored.length, "chunk length");
  // Plane p + 1 first: an adaptive mantissa plane reads it.
  const planes: Uint8Array[] = new Array(P);
  for (let i = P - 1; i >= 0; i--) {
    const [codec, payload] = payloads[i], len = payload.length;
    if (codec === 0) must(len === n, "raw"), planes[i] = payload;
    else if (codec === 1) must(len === 1, "const"), planes[i] = new Uint8Array(n).fill(payload[0]);
    else if (codec === 2) planes[i] = specRans(payload, n);
    else if (codec === 3) planes[i] = zstd(payload, n);
    else if (codec === 4) planes[i] = specHuffman(payload, n);
    else if (codec === 5) planes[i] = specAdaptive(payload, n, planes[i + 1]);
    else if (codec === 6) planes[i] = specContext(payload, n, planes[i + 1]);
    else throw new SpecError(`codec ${codec}`);
  }
  if (P === 1) return planes[0].slice();
  const out = new Uint8Array(raw);
  for (let e = 0; e < n; e++) {
    for (let b = 0; b < width; b++) out[e * width + b] = planes[b][e];
    if (signMoved) {
      const x = out[e * width + width - 1], m = out[e * width + width - 2];
      out[e * width + width - 1] = (m & 0x80) | (x >> 1);
      out[e * width + width - 2] = ((x & 1) << 7) | (m & 0x7f);
    }
  }
  return out;
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** FORMAT.md "Head" and "Index": the parsed index JSON. */
function specIndex(file: Uint8Array): Json {
  const magic = [0x89, 0x54, 0x53, 0x52, 0x0d, 0x0a, 0x1a, 0x0a];
  must(magic.every((b, i) => file[i] === b), "magic");
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = view.getUint32(8, true);
  must((version >= 1 && version <= 3) && view.getUint16(14, true) === 0, "version/reserved");
  const codec = view.getUint16(12, true), offset = Number(view.getBigUint64(16, true));
  const length = view.getUint32(24, true), rawLength = view.getUint32(28, true);
  must(offset >= 64 && offset + length <= file.length, "index range");
  const stored = file.subarray(offset, offset + length);
  must(hex(file.subarray(32, 64)) === sha256Hex(stored), "index sha256");
  must(codec === 0 ? rawLength === length : codec === 3, "index codec");
  const index: Json = JSON.parse(
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      codec === 0 ? stored : zstd(stored, rawLength),
    ),
  );
  must(index.format === "tessera" && index.version === version, "index format");
  // Cross-field rules 1 and 9: a power of two from 1 (versions 1-2: 64) to 4096; chunks on it.
  const a = index.alignment;
  must(
    Number.isInteger(a) && a >= (version >= 3 ? 1 : 64) && a <= 4096 && (a & (a - 1)) === 0,
    "alignment",
  );
  for (const t of index.tensors) {
    for (const e of t.encodings) {
      if (e.kind !== "lossless") continue;
      for (const [off, len] of e.chunks) {
        must(off >= 64 && off % a === 0 && off + len <= file.length, "chunk offset");
      }
    }
  }
  return index;
}

/**
 * FORMAT.md "Original header": the first parts of the original file, its 8-byte header length
 * and the header itself, checked against its SHA-256.
 */
function specFileHead(file: Uint8Array, index: Json): Uint8Array[] {
  const h = index.source.header;
  const storedHeader = file.subarray(h.offset, h.offset + h.storedLength);
  const header = h.codec === 0 ? storedHeader : zstd(storedHeader, h.length);
  must(sha256Hex(header) === h.sha256, "header sha256");
  const parts: Uint8Array[] = [new Uint8Array(8), header];
  new DataView(parts[0].buffer).setBigUint64(0, BigInt(header.length), true);
  return parts;
}

/**
 * FORMAT.md end to end: a container to the original safetensors bytes. `storedChecks` off skips
 * the optional stored-bytes XXH32, leaving the checks every read MUST make.
 */
function specDecode(file: Uint8Array, storedChecks = true): Uint8Array {
  const index = specIndex(file);
  const parts = specFileHead(file, index);
  for (const t of index.tensors) {
    const l = t.encodings.find((e: Json) => e.kind === "lossless");
    const w = l.layout.width;
    const rows = t.shape.slice(0, -1).reduce((a: number, b: number) => a * b, 1);
    const cols = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1];
    const [tr, tc] = l.tile;
    const gridCols = Math.ceil(cols / tc);
    const data = new Uint8Array(t.offsets[1] - t.offsets[0]);
    l.chunks.forEach(([off, len, raw, storedSum, rawSum]: number[], i: number) => {
      const chunk = file.subarray(off, off + len);
      must(!storedChecks || xxh32(chunk) === storedSum, "stored xxh32");
      const tile = specChunk(chunk, l.layout, raw);
      must(xxh32(tile) === rawSum, "raw xxh32");
      const r0 = Math.floor(i / gridCols) * tr, c0 = (i % gridCols) * tc;
      const tw = Math.min(cols, c0 + tc) - c0;
      for (let r = r0; r < Math.min(rows, r0 + tr); r++) {
        const from = (r - r0) * tw * w;
        data.set(tile.subarray(from, from + tw * w), (r * cols + c0) * w);
      }
    });
    must(sha256Hex(data) === t.sha256, `tensor ${t.name} sha256`);
    parts.push(data);
  }
  const original = concat(parts);
  must(original.length === index.source.size, "size");
  must(sha256Hex(original) === index.source.sha256, "file sha256");
  return original;
}

for (const { file, bytes: katBytes, original: katOriginal } of CONTAINERS) {
  Deno.test(`kat: a decoder written from docs/FORMAT.md alone rebuilds ${file}'s original`, () => {
    const original = specDecode(katBytes);
    assert.equal(firstDifference(original, katOriginal), -1);
  });

  Deno.test(`kat: the FORMAT.md decoder never returns wrong bytes for a flipped bit of ${file}`, () => {
    // Without the stored checksum, only the chunk structure and the raw XXH32 stand in the way. A
    // flip may leave the output unchanged (a one-element plane reads the same as codec 0 or 1, and
    // a Zstandard decoder may ignore some bits of a block); anything else must be an error.
    // The larger containers: every 5th byte (quantised) or 97th (context), each bit (a whole-file
    // decode per flip, and the FORMAT.md decoder is slow on purpose).
    const step = katBytes.length > 6000 ? 97 : katBytes.length > 3000 ? 5 : 1;
    for (const t of specIndex(katBytes).tensors) {
      for (const [offset, length] of t.encodings[0].chunks) {
        for (let at = offset; at < offset + length; at += step) {
          for (let bit = 0; bit < 8; bit++) {
            const bad = katBytes.slice();
            bad[at] ^= 1 << bit;
            let out: Uint8Array;
            try {
              out = specDecode(bad, false);
            } catch (e) {
              assert.ok(e instanceof SpecError || e instanceof Error, String(e));
              continue;
            }
            assert.equal(firstDifference(out, katOriginal), -1, `${t.name}: byte ${at}`);
          }
        }
      }
    }
  });
}

Deno.test("kat: the fast container holds a Huffman plane, so the FORMAT.md decoder reads one", () => {
  const bytes = CONTAINERS[1].bytes;
  const codecs = specIndex(bytes).tensors.flatMap((t: Json) =>
    t.encodings[0].chunks.flatMap(([offset]: number[]) =>
      Array.from({ length: bytes[offset] }, (_, p) => bytes[offset + 1 + 5 * p])
    )
  );
  assert.ok(codecs.includes(4), `codecs ${codecs}`);
});

// ---------------------------------------------------------------------------------------------
// Variants (FORMAT.md "Variants"), decoded by the same FORMAT.md-only helpers above.

const variantsJson = JSON.parse(Deno.readTextFileSync(`${DIR}variants.json`));
const variantsTsr = Deno.readFileSync(`${DIR}variants.tsr`);
const variantsEdge = Deno.readFileSync(`${DIR}variants.edge.tsr`);

/** FORMAT.md "Dtypes": width and sign move of the section dtypes. */
const SPEC_LAYOUT: Record<string, [number, boolean]> = {
  U8: [1, false],
  U32: [4, false],
  F16: [2, false],
  BF16: [2, true],
  F32: [4, true],
  F64: [8, false],
};

/** FORMAT.md "Variant chunks": the checked sections of one chunk. */
function specSections(file: Uint8Array, record: number[], dtypes: string[]): Uint8Array[] {
  const [off, len, raw, storedSum, rawSum] = record;
  const chunk = file.subarray(off, off + len);
  must(xxh32(chunk) === storedSum, "variant stored xxh32");
  must(chunk[0] === dtypes.length, "section count");
  let p = 1 + 12 * dtypes.length;
  const parts: Uint8Array[] = [];
  for (let k = 0; k < dtypes.length; k++) {
    const stored = u32(chunk, 1 + 12 * k), rawK = u32(chunk, 5 + 12 * k);
    const [w, moved] = SPEC_LAYOUT[dtypes[k]];
    must(rawK % w === 0 && (rawK === 0) === (stored === 0), "section lengths");
    must(p + stored <= chunk.length, "section past chunk");
    const part = rawK === 0
      ? new Uint8Array(0)
      : specChunk(chunk.subarray(p, p + stored), { width: w, signMoved: moved }, rawK);
    must(xxh32(part) === u32(chunk, 9 + 12 * k), "section xxh32");
    parts.push(part);
    p += stored;
  }
  must(p === chunk.length, "sections end");
  const payload = concat(parts);
  must(payload.length === raw && xxh32(payload) === rawSum, "variant raw xxh32");
  return parts;
}

const f32 = Math.fround;

function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

/** An element of a section of `dtype` as a binary32 value. */
function readElement(b: Uint8Array, dtype: string, i: number): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dtype === "F32") return v.getFloat32(4 * i, true);
  if (dtype === "BF16") {
    return new DataView(Uint32Array.of(v.getUint16(2 * i, true) << 16).buffer).getFloat32(0, true);
  }
  return halfToNumber(v.getUint16(2 * i, true));
}

/** FORMAT.md "Values": binary32 `x` written in `dtype` (F16 and BF16 by exact rounding). */
function writeElement(out: DataView, dtype: string, i: number, x: number) {
  if (dtype === "F32") {
    if (Number.isNaN(x)) out.setUint32(4 * i, 0x7fc00000, true);
    else out.setFloat32(4 * i, x, true);
    return;
  }
  if (Number.isNaN(x)) return out.setUint16(2 * i, dtype === "F16" ? 0x7e00 : 0x7fc0, true);
  // Round to the nearest representable value, ties to the even significand, by search over the
  // two neighbours: the formats are small enough to enumerate around x.
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0, a = Math.abs(x);
  const value = (h: number) =>
    dtype === "F16" ? halfToNumber(h) : readElement(Uint8Array.of(h & 255, h >> 8), "BF16", 0);
  let lo = 0, hi = 0x7f80 >> (dtype === "F16" ? 0 : 0);
  hi = dtype === "F16" ? 0x7c00 : 0x7f80; // +infinity
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (value(mid) <= a) lo = mid;
    else hi = mid;
  }
  let h: number;
  if (value(lo) === a) h = lo;
  else {
    const top = dtype === "F16" ? 0x7bff : 0x7f7f; // largest finite
    if (lo === top) {
      // Beyond the largest finite: the next step would be 2^16 (F16) or 2^128 (BF16).
      const next = dtype === "F16" ? 65536 : 2 ** 128;
      h = a - value(lo) < next - a || (a - value(lo) === next - a && (lo & 1) === 0) ? lo : hi;
    } else {
      const dl = a - value(lo), dh = value(hi) - a;
      h = dl < dh || (dl === dh && (lo & 1) === 0) ? lo : hi;
    }
  }
  out.setUint16(2 * i, sign | h, true);
}

/** FORMAT.md "Variants": the whole tensor `t` under variant `name`, in its dtype. */
function specVariant(file: Uint8Array, t: Json, name: string): Uint8Array {
  const e = t.encodings.find((x: Json) => x.name === name);
  if (!e || e.kind === "exact") {
    const l = t.encodings.find((x: Json) => x.kind === "lossless");
    must(l !== undefined, "no lossless encoding");
    return specTensor(file, t, l);
  }
  const [rows, cols] = e.view, [tr, tc] = e.tile;
  const w = SPEC_LAYOUT[t.dtype][0];
  const data = new Uint8Array(rows * cols * w), out = new DataView(data.buffer);
  const gridCols = Math.ceil(cols / tc), gridRows = Math.ceil(rows / tr);
  const p = e.params;
  if (e.kind === "lowrank") {
    const r = p.rank, fw = p.factor;
    const s = specSections(file, e.chunks[0], ["F32"])[0];
    const U: number[][] = [], V: number[][] = [];
    for (let b = 0; b < gridRows; b++) {
      const sec = specSections(file, e.chunks[1 + b], [fw])[0];
      for (let i = 0; i < sec.length / 2 / r; i++) {
        U.push(Array.from({ length: r }, (_, k) => readElement(sec, fw, i * r + k)));
      }
    }
    for (let b = 0; b < gridCols; b++) {
      const sec = specSections(file, e.chunks[1 + gridRows + b], [fw])[0];
      for (let j = 0; j < sec.length / 2 / r; j++) {
        V.push(Array.from({ length: r }, (_, k) => readElement(sec, fw, j * r + k)));
      }
    }
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        let acc = 0;
        for (let k = 0; k < r; k++) {
          acc = f32(acc + f32(f32(U[i][k] * readElement(s, "F32", k)) * V[j][k]));
        }
        writeElement(out, t.dtype, i * cols + j, acc);
      }
    }
    return data;
  }
  must(e.chunks.length === gridRows * gridCols, "chunk count");
  e.chunks.forEach((record: number[], idx: number) => {
    const r0 = Math.floor(idx / gridCols) * tr, c0 = (idx % gridCols) * tc;
    const r1 = Math.min(rows, r0 + tr), c1 = Math.min(cols, c0 + tc), R = r1 - r0, C = c1 - c0;
    const at = (el: number) => (r0 + Math.floor(el / C)) * cols + c0 + (el % C);
    const G = p.group ? Math.ceil(c1 / p.group) - Math.floor(c0 / p.group) : 0;
    const groupOf = (el: number) =>
      Math.floor((c0 + (el % C)) / p.group) - Math.floor(c0 / p.group);
    if (e.kind === "int8") {
      const asym = p.scheme === "asymmetric";
      const parts = specSections(file, record, asym ? [p.scale, "U8", "U8"] : [p.scale, "U8"]);
      const codes = parts[parts.length - 1];
      for (let el = 0; el < R * C; el++) {
        const g = Math.floor(el / C) * G + groupOf(el), s = readElement(parts[0], p.scale, g);
        const q = asym ? codes[el] - parts[1][g] : (codes[el] << 24) >> 24;
        writeElement(out, t.dtype, at(el), f32(q * s));
      }
    } else if (e.kind === "cast") {
      const [sec] = specSections(file, record, [p.dtype]);
      for (let el = 0; el < R * C; el++) {
        if (p.dtype === t.dtype) data.set(sec.subarray(el * w, el * w + w), at(el) * w);
        else writeElement(out, t.dtype, at(el), readElement(sec, p.dtype, el));
      }
    } else if (e.kind === "ternary") {
      const n = p.bases;
      const trits = specSections(file, record, [p.scale, "U8"]);
      const trit = (el: number, k: number) => {
        if (p.packing === "2bit") {
          const b = trits[1][el];
          must(b >> (2 * n) === 0, "high bits");
          const f = (b >> (2 * k)) & 3;
          must(f !== 2, "field 2");
          return [0, 1, 0, -1][f];
        }
        const i = el * n + k;
        let byte = trits[1][Math.floor(i / 5)];
        must(byte < 243, "base3 byte");
        for (let d = 0; d < i % 5; d++) byte = Math.floor(byte / 3);
        return [0, 1, -1][byte % 3];
      };
      if (p.packing === "base3") {
        for (let i = R * C * n; i < trits[1].length * 5; i++) {
          let byte = trits[1][Math.floor(i / 5)];
          for (let d = 0; d < i % 5; d++) byte = Math.floor(byte / 3);
          must(byte % 3 === 0, "base3 padding");
        }
      }
      for (let el = 0; el < R * C; el++) {
        const g = Math.floor(el / C) * G + groupOf(el);
        let acc = 0;
        for (let k = 0; k < n; k++) {
          acc = f32(acc + f32(readElement(trits[0], p.scale, g * n + k) * trit(el, k)));
        }
        writeElement(out, t.dtype, at(el), acc);
      }
    } else if (e.kind === "sparse") {
      const tile = new Uint8Array(R * C * w);
      if (p.layout === "dense") tile.set(specSections(file, record, [t.dtype])[0]);
      else {
        const [gaps, values] = specSections(file, record, ["U32", t.dtype]);
        must(gaps.length / 4 === values.length / w, "sparse counts");
        let pos = -1;
        for (let m = 0; m < gaps.length / 4; m++) {
          pos += u32(gaps, 4 * m) + 1;
          must(pos < R * C, "sparse position");
          tile.set(values.subarray(m * w, m * w + w), pos * w);
        }
      }
      for (let el = 0; el < R * C; el++) data.set(tile.subarray(el * w, el * w + w), at(el) * w);
    } else throw new SpecError(`kind ${e.kind}`);
  });
  must(sha256Hex(data) === e.sha256, "variant tensor sha256");
  return data;
}

/** FORMAT.md "Reading: a variant's file": the original file with every tensor as variant `name`. */
function specVariantFile(file: Uint8Array, name: string): Uint8Array {
  const index = specIndex(file);
  const v = index.variants.find((x: Json) => x.name === name);
  must(v !== undefined, "variant listed");
  const parts = specFileHead(file, index);
  for (const t of index.tensors) parts.push(specVariant(file, t, name));
  const out = concat(parts);
  must(out.length === index.source.size && sha256Hex(out) === v.sha256, "variant file sha256");
  return out;
}

/** FORMAT.md "Reading": one tensor from its lossless encoding. */
function specTensor(file: Uint8Array, t: Json, l: Json): Uint8Array {
  const w = l.layout.width;
  const rows = t.shape.slice(0, -1).reduce((a: number, b: number) => a * b, 1);
  const cols = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1];
  const [tr, tc] = l.tile, gridCols = Math.ceil(cols / tc);
  const data = new Uint8Array(t.offsets[1] - t.offsets[0]);
  l.chunks.forEach(([off, len, raw, , rawSum]: number[], i: number) => {
    const tile = specChunk(file.subarray(off, off + len), l.layout, raw);
    must(xxh32(tile) === rawSum, "raw xxh32");
    const r0 = Math.floor(i / gridCols) * tr, c0 = (i % gridCols) * tc;
    const tw = Math.min(cols, c0 + tc) - c0;
    for (let r = r0; r < Math.min(rows, r0 + tr); r++) {
      data.set(tile.subarray((r - r0) * tw * w, (r - r0 + 1) * tw * w), (r * cols + c0) * w);
    }
  });
  must(sha256Hex(data) === t.sha256, "tensor sha256");
  return data;
}

Deno.test("kat: variants containers match variants.json and make_kat_variants.ts", () => {
  assert.equal(variantsTsr.length, variantsJson.tsr.size);
  assert.equal(sha256Hex(variantsTsr), variantsJson.tsr.sha256);
  assert.equal(sha256Hex(variantsEdge), variantsJson.edge.sha256);
  assert.equal(variantsJson.specs, KAT_VARIANT_SPECS);
  assert.equal(
    hex(buildKatVariantsSafetensors()),
    hex(Deno.readFileSync(`${DIR}variants.safetensors`)),
  );
});

Deno.test("kat: every variant of variants.tsr decodes to the committed bytes, whole and by tiles", async () => {
  for (const file of ["variants.tsr", "variants.edge.tsr"]) {
    const c = await openContainerFile(`${DIR}${file}`);
    try {
      for (const v of c.index.variants!) {
        for (const t of c.index.tensors) {
          const want = variantsJson.variants[v.name][t.name];
          assert.equal(
            hex(await readVariantRegion(c, t, v.name)),
            want,
            `${file} ${v.name} ${t.name}`,
          );
          // A lower-right rectangle of the tensor's matrix is the same bytes of the whole.
          const rows = t.shape.slice(0, -1).reduce((a, b) => a * b, 1), cols = t.shape.at(-1) ?? 1;
          const w = want.length / 2 / (rows * cols);
          const rect = { r0: rows >> 1, r1: rows, c0: cols >> 1, c1: cols };
          let cut = "";
          for (let r = rect.r0; r < rect.r1; r++) {
            cut += want.slice(2 * w * (r * cols + rect.c0), 2 * w * (r * cols + rect.c1));
          }
          assert.equal(
            hex(await readVariantRegion(c, t, v.name, rect)),
            cut,
            `${v.name} ${t.name}`,
          );
        }
      }
    } finally {
      c.source.close();
    }
  }
});

Deno.test("kat: re-deriving the variants reproduces variants.tsr and variants.edge.tsr byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera_kat_variants_" });
  try {
    await writeKatVariants(dir);
    for (const f of ["variants.tsr", "variants.edge.tsr"]) {
      const again = await Deno.readFile(`${dir}/${f}`),
        committed = await Deno.readFile(`${DIR}${f}`);
      assert.equal(
        firstDifference(again, committed),
        -1,
        `${f} differs: the deriver is non-deterministic or the format changed; if intended, ` +
          "update docs/FORMAT.md and re-run make_kat_variants.ts",
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kat: a decoder written from docs/FORMAT.md alone decodes every variant layout", () => {
  const index = specIndex(variantsTsr);
  const kinds = new Set<string>();
  for (const v of index.variants) {
    for (const t of index.tensors) {
      const e = t.encodings.find((x: Json) => x.name === v.name);
      if (e) {
        kinds.add(
          e.kind === "sparse" || e.kind === "ternary"
            ? `${e.kind}/${e.params.layout ?? e.params.packing}`
            : e.kind,
        );
      }
      assert.equal(
        hex(specVariant(variantsTsr, t, v.name)),
        variantsJson.variants[v.name][t.name],
        `${v.name} ${t.name}`,
      );
    }
  }
  assert.deepEqual([...kinds].sort(), [
    "cast",
    "exact",
    "int8",
    "lowrank",
    "sparse/coo",
    "sparse/dense",
    "ternary/2bit",
    "ternary/base3",
  ]);
  // The lossless parts are untouched: the original rebuilds as before.
  assert.equal(sha256Hex(specDecode(variantsTsr)), index.source.sha256);
});

Deno.test("kat: each variant's file, rebuilt by the FORMAT.md decoder, matches its SHA-256", () => {
  for (const file of [variantsTsr, variantsEdge]) {
    for (const v of specIndex(file).variants) {
      const bytes = specVariantFile(file, v.name);
      // The header is the original's: only the tensors' bytes differ.
      assert.equal(bytes.length, variantsJson.safetensors.size);
    }
  }
});

Deno.test("kat: the FORMAT.md decoder reads the variant-only container's variant and refuses its original", () => {
  const index = specIndex(variantsEdge);
  for (const t of index.tensors) {
    assert.equal(
      hex(specVariant(variantsEdge, t, "ternary:2")),
      variantsJson.variants["ternary:2"][t.name],
    );
  }
  assert.throws(() => specDecode(variantsEdge));
});

Deno.test("kat: the FORMAT.md variant decoder never returns wrong bytes for a flipped bit", () => {
  // Every byte of one chunk of each lossy kind: an error, or the same bytes.
  const index = specIndex(variantsTsr);
  const t = index.tensors.find((x: Json) => x.name === "model.layers.0.mlp.up_proj.weight");
  for (const e of t.encodings.filter((x: Json) => x.chunks && x.kind !== "lossless")) {
    const want = variantsJson.variants[e.name][t.name];
    const [offset, length] = e.chunks[0];
    for (let at = offset; at < offset + length; at++) {
      const bad = variantsTsr.slice();
      bad[at] ^= 1 << (at % 8);
      let got: string;
      try {
        got = hex(specVariant(bad, t, e.name));
      } catch {
        continue;
      }
      assert.equal(got, want, `${e.name} byte ${at}`);
    }
  }
});

Deno.test("kat: the quantised container holds FP8, INT8 and packed INT4 in adaptive planes", () => {
  const bytes = CONTAINERS[2].bytes, index = specIndex(bytes);
  const dtypes = new Set(index.tensors.map((t: Json) => t.dtype));
  for (const d of ["F8_E4M3", "F8_E5M2", "I8", "I32", "U8"]) assert.ok(dtypes.has(d), d);
  const packed = index.tensors.filter((t: Json) => t.encodings[0].layout.packing === "int4");
  assert.deepEqual(packed.map((t: Json) => t.dtype).sort(), ["I32", "I32", "U8"]);
  // Adaptive plane models seen (payload byte 0), by the transform or context they use.
  const seen = new Set<string>();
  for (const t of index.tensors) {
    for (const [offset] of t.encodings[0].chunks) {
      const count = bytes[offset];
      let at = offset + 1 + 5 * count;
      for (let p = 0; p < count; p++) {
        const len = u32(bytes, offset + 2 + 5 * p);
        if (bytes[offset + 1 + 5 * p] === 5) seen.add(`${bytes[at]}/${(bytes[at + 1] >> 2) & 3}`);
        at += len;
      }
    }
  }
  for (const m of ["0/1", "0/2", "0/3", "1/0", "3/0"]) assert.ok(seen.has(m), `model/variant ${m}`);
});

Deno.test("kat: the FORMAT.md decoder reads every adaptive model, context and lane count", () => {
  // Chunks from the codec's encoder, decoded by the decoder above: what the committed containers
  // do not happen to hold (the mantissa model, the previous-symbol context, escapes, 2 and 4 lanes).
  let seed = 99;
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  for (const n of [1, 7, 300, 2000]) {
    const plane = Uint8Array.from(
      { length: n },
      () => 100 + (next() % 9) + (next() % 50 === 0 ? 60 : 0),
    );
    const above = Uint8Array.from({ length: n }, () => 120 + (next() % 5));
    for (const lanes of [1, 2, 4]) {
      for (const context of [0, 1, 2]) {
        const h = { context, lanes, cols: 13, elementBytes: 1, values: new Uint8Array(0) };
        for (const variant of [0, 1, 2, 3]) {
          const coded = adaptiveEncode(plane, { ...h, model: 0, variant });
          assert.equal(hex(specAdaptive(coded, n)), hex(plane));
        }
        const values = topValues(plane).slice(0, 4); // leaves values to escape
        assert.equal(
          hex(specAdaptive(adaptiveEncode(plane, { ...h, model: 1, variant: 0, values }), n)),
          hex(plane),
        );
        const coded3 = adaptiveEncode(plane, { ...h, model: 3, variant: 0, elementBytes: 1 });
        assert.equal(hex(specAdaptive(coded3, n)), hex(plane));
      }
      for (const variant of [0, 1]) {
        const coded = adaptiveEncode(plane, {
          model: 2,
          context: 0,
          variant,
          lanes,
          cols: 1,
          elementBytes: 1,
          values: topValues(above),
        }, above);
        assert.equal(hex(specAdaptive(coded, n, above)), hex(plane));
      }
    }
  }
  // And whole chunks: a BF16 chunk whose planes are both adaptive, and a packed INT4 one.
  const bf16 = new Uint8Array(2 * 600).map((_, i) => i % 2 ? 0x3c + (next() % 3) : next() & 0xff);
  const layout = { width: 2, signMoved: true };
  const stored = encodeChunk(bf16, layout, { mode: "best", dtype: "BF16", tileCols: 24 });
  assert.equal(hex(specChunk(stored, layout, bf16.length)), hex(bf16));
  const words = new Uint8Array(4 * 300).map(() => 0x77 + (next() % 3) * 0x11);
  const packed = { width: 4, signMoved: false, packing: "int4" };
  const stored4 = encodeChunk(words, packed as never, { mode: "best", dtype: "I32", tileCols: 30 });
  assert.equal(stored4[0], 1);
  assert.equal(hex(specChunk(stored4, packed, words.length)), hex(words));
});

Deno.test("kat: the context container holds context rANS planes of two sources", () => {
  const bytes = CONTAINERS[3].bytes, sources = new Set<number>();
  for (const t of specIndex(bytes).tensors) {
    for (const [offset] of t.encodings[0].chunks) {
      assert.equal(bytes[offset], 1);
      assert.equal(bytes[offset + 1], 6, t.name);
      sources.add(bytes[offset + 6]);
    }
  }
  assert.deepEqual([...sources].sort(), [0, 1]);
});

Deno.test("kat: the FORMAT.md decoder reads context rANS planes of every source", () => {
  // Payloads from the codec's encoder, decoded by specContext above (written from FORMAT.md).
  let seed = 7;
  // The high bits: an LCG's low bits repeat with short periods.
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 8;
  for (const n of [1, 5, 300, 5000]) {
    let e = 8;
    const plane = Uint8Array.from({ length: n }, () => {
      if (next() % 50 === 0) e = 2 + (next() % 12);
      return ((next() & 1) << 7) | ((e + (next() % 3)) << 3) | (next() & 7);
    });
    const above = Uint8Array.from({ length: n }, () => 100 + (next() % 9));
    for (const [source, cols] of [[0, 0], [1, 4], [1, 17], [2, 0]]) {
      for (const shift of [0, 3, 7]) {
        const classOfKey = new Uint8Array(256 >> shift);
        for (let k = 0; k < classOfKey.length; k += 3) classOfKey[k] = 1 + (k % 4);
        const h = { source, shift, cols, classes: 5, classOfKey };
        const coded = contextEncode(plane, h, above);
        assert.equal(hex(specContext(coded, n, source === 2 ? above : undefined)), hex(plane));
      }
    }
  }
  // Whole chunks: FP8 bytes in the context of the previous byte, BF16 with its mantissa plane in
  // the context of the exponent plane above.
  let e = 8;
  const fp8 = Uint8Array.from({ length: 20000 }, () => {
    if (next() % 50 === 0) e = 2 + (next() % 12);
    return ((next() & 1) << 7) | ((e + (next() % 3)) << 3) | (next() & 7);
  });
  const l1 = { width: 1, signMoved: false };
  const s1 = encodeChunk(fp8, l1, { mode: "best", dtype: "F8_E4M3", tileCols: 100 });
  assert.equal(s1[1], 6);
  assert.equal(hex(specChunk(s1, l1, fp8.length)), hex(fp8));
  const bf16 = new Uint8Array(2 * 20000);
  for (let i = 0; i < 20000; i++) {
    const x = 112 + ((fp8[i] >> 3) & 15);
    bf16[2 * i + 1] = (next() & 0x80) | (x >> 1);
    bf16[2 * i] = ((x & 1) << 7) | ((x & 3) * 30 + (next() % 20));
  }
  const l2 = { width: 2, signMoved: true };
  const s2 = encodeChunk(bf16, l2, { mode: "best", dtype: "BF16", tileCols: 100 });
  assert.ok(s2[1] === 6 || s2[6] === 6, "a context plane");
  assert.equal(hex(specChunk(s2, l2, bf16.length)), hex(bf16));
});
