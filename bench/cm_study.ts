/**
 * Issue 13, round 4: why `xz -6` beats `best` on the quantised inputs, and whether an adaptive
 * binary context-mixing coder of the 8-bit symbol, one chunk at a time (Tessera's random access
 * kept, every tensor's SHA-256 kept), would beat `xz -6`, `zstd -19` and `bzip2 -9` on all of them.
 *
 * For each input it packs `best` with the real writer (index, header and every chunk as today),
 * then prices each tile (chunk) of a 1-byte dtype with the coder modelled here: the ideal code
 * length of its probabilities plus 6 bytes per chunk (4 of arithmetic-coder flush, 1 naming the
 * models, 1 naming the prior; a 32-bit binary arithmetic coder lands within 0.01% of the ideal
 * length). Per tensor it keeps the smaller of that and today's chunks, as an encoder choosing per
 * chunk would. Every other byte of the container (index, stored header, chunks of other dtypes)
 * counts as it is today. It also prints each chunk's order-0 entropy (the per-chunk order-0 bound)
 * and a breakdown by tensor size.
 *
 * The coder (a prototype of a plane codec, per chunk, no state shared between chunks):
 * - the symbol: FP8 as exponent, sign, mantissa (E4M3 `eeee s mmm`, E5M2 `eeeee s mm`), INT8 as
 *   magnitude then sign, packed INT4 (`qweight` U8) with its low nibble first, other bytes as they
 *   are; coded most significant bit first down a 255-node binary tree (LZMA's literal coder);
 * - models, each one probability per tree node in a context: order 0; the top 4 bits of the
 *   previous symbol of the row; of the symbol a row up; a running average of the row's top bits;
 *   of the column's; the top 6 bits of the symbol in the same column of a reference row; and a
 *   match model predicting the bits of that symbol until one differs. The encoder picks each row's
 *   reference (the row among the 255 before it with most equal bytes, at least a quarter, or none;
 *   priced as an adaptive flag per row and log2 of the distance);
 * - counters with a count-driven rate (1/(n+1.5), n capped at 1000), so a context learns like a
 *   Krichevsky-Trofimov estimator instead of paying a fixed-rate learning cost; a context's first
 *   visit starts from order 0's estimate;
 * - a prior named by 1 byte of the chunk: every counter starts at the tree probabilities of
 *   `exp(-|x/s|^beta)` over the symbols' values (beta in {0.5, 0.75, 1, 1.5, 2}, s on a quarter-
 *   octave grid; the encoder fits it to the chunk's histogram), with a count of 16 or 64, or at 1/2;
 * - logistic mixing of the models' stretched probabilities, one weight set per tree depth, learning
 *   at max(0.003, 0.02 / sqrt(1 + bits/1024)).
 * The encoder's search per chunk: each prior under order 0 alone, then "o0+prev+col", "all-match"
 * (no reference row) and "all" under the best prior; the smallest is kept.
 *
 * Tried on stories260k and not kept (chunk bytes against the kept design at the time): a model
 * of the bits below the exponent without the exponent (`suffix`, +0.06%), mixer weights selected
 * by the first four tree levels (`CM_MIXSEL=1`, +0.00%), a secondary estimation stage after the
 * mixer (+0.05% on INT8, +0.11% on E4M3: it learns too slowly for small chunks; removed), LZMA's
 * fixed counter rate of 1/32 (+1.8% over order 0 on the 11 KB tensors).
 *
 * Run: deno run -A bench/cm_study.ts [input names...] (one JSON line per input). The committed
 * results, with those of bench/xz_study.ts and bench/cm_decode_speed.c:
 * bench/results/2026-12-01-codec13-cm-study.json.
 * @module
 */
import { packFile } from "../src/pack/write.ts";
import { geometryOf, type Lossless, type TensorEntry } from "../src/container/index_schema.ts";
import { copyTileRegion, gridSize, tileRect } from "../codec/tiles.ts";
import { entropyBits } from "./bounds.ts";
import { compressedSize, STUDY_INPUTS, studyInput } from "./study_inputs.ts";

const DIR = Deno.env.get("STUDY_DIR") ?? "/tmp/codec13-study";

/** How the bytes of a chunk become tree symbols. */
type SymbolKind = "e4m3" | "e5m2" | "int8" | "nibbles" | "byte";

/** Which models a configuration mixes. */
interface Config {
  readonly name: string;
  readonly o0: boolean;
  readonly prev: boolean;
  readonly above: boolean;
  readonly rowAvg: boolean;
  readonly colAvg: boolean;
  readonly match: boolean;
  /** Bits below the exponent (or top 4 bits) in a context without the exponent. */
  readonly suffix: boolean;
}

// Defaults are the configuration the committed results were measured with.
const LIMIT = Number(Deno.env.get("CM_LIMIT") ?? 1000);
const LR = Number(Deno.env.get("CM_LR") ?? 0.003);
const W0 = Number(Deno.env.get("CM_W0") ?? 0.2);
const LR_HI = Number(Deno.env.get("CM_LRHI") ?? 0.02);
const RUN = (Deno.env.get("CM_RUN") ?? "all,o0+prev+col,all-match").split(",");
const N0S = (Deno.env.get("CM_N0") ?? "16,64").split(",").map(Number);
const PRIOR = Deno.env.get("CM_PRIOR") !== "0";
const INHERIT = Deno.env.get("CM_INHERIT") !== "0";
const MIXSEL = Deno.env.get("CM_MIXSEL") === "1";

function symbolsOf(bytes: Uint8Array, kind: SymbolKind): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (kind === "e4m3") out[i] = ((b & 0x78) << 1) | ((b >> 4) & 8) | (b & 7);
    else if (kind === "e5m2") out[i] = ((b & 0x7c) << 1) | ((b >> 5) & 4) | (b & 3);
    else if (kind === "int8") {
      // Magnitude then sign, so both signs of a magnitude share the tree's path down to the last
      // bit; -128 takes the unused slot of a negative zero.
      const v = (b << 24) >> 24;
      out[i] = v === -128 ? 1 : (Math.abs(v) << 1) | (v < 0 ? 1 : 0);
    } else if (kind === "nibbles") out[i] = ((b & 15) << 4) | (b >> 4);
    else out[i] = b;
  }
  return out;
}

/** A context model: a probability and a count per (context, tree node). */
class Counters {
  readonly p: Float32Array;
  readonly n: Uint16Array;
  constructor(contexts: number, prior?: Float32Array, n0 = 0) {
    this.p = new Float32Array(contexts * 256).fill(0.5);
    this.n = new Uint16Array(contexts * 256);
    if (prior) {
      for (let c = 0; c < contexts; c++) this.p.set(prior, c * 256);
      this.n.fill(n0);
    }
  }
  update(i: number, bit: number) {
    const n = this.n[i];
    this.p[i] += (bit - this.p[i]) / (n + 1.5);
    if (n < LIMIT) this.n[i] = n + 1;
  }
}

const stretch = (p: number) => Math.log(p / (1 - p));
const squash = (x: number) => 1 / (1 + Math.exp(-x));
const clampP = (p: number) => Math.min(1 - 1 / 4096, Math.max(1 / 4096, p));

/** How far back a reference row may be (its distance is coded in 8 bits at most). */
const WINDOW = 255;

/** Reference row per row (-1: none): the earlier row with most equal bytes, if a quarter match. */
function referenceRows(sym: Uint8Array, rows: number, cols: number): Int32Array {
  const ref = new Int32Array(rows).fill(-1);
  for (let r = 1; r < rows; r++) {
    let best = -1, bestEq = Math.max(2, cols >> 2) - 1;
    for (let q = Math.max(0, r - WINDOW); q < r; q++) {
      let eq = 0;
      for (let c = 0; c < cols; c++) if (sym[r * cols + c] === sym[q * cols + c]) eq++;
      if (eq > bestEq) [best, bestEq] = [q, eq];
    }
    ref[r] = best;
  }
  return ref;
}

/** Ideal code length in bits of one chunk (`rows × cols` symbols) under `cfg`. */
function chunkBits(
  sym: Uint8Array,
  rows: number,
  cols: number,
  cfg: Config,
  kind: SymbolKind,
  prior: Prior | null,
): number {
  const models: { c: Counters; ctx: () => number }[] = [];
  let prev = 16, above = 16, rowAvg = 0, r = 0, c = 0;
  const colAvg = new Float32Array(cols);
  if (cfg.o0) models.push({ c: new Counters(1, prior?.p, prior?.n0), ctx: () => 0 });
  if (cfg.prev) models.push({ c: new Counters(17, prior?.p, prior?.n0), ctx: () => prev });
  if (cfg.above) models.push({ c: new Counters(17, prior?.p, prior?.n0), ctx: () => above });
  if (cfg.rowAvg) {
    models.push({
      c: new Counters(16, prior?.p, prior?.n0),
      ctx: () => Math.min(15, rowAvg | 0),
    });
  }
  if (cfg.colAvg) {
    models.push({
      c: new Counters(16, prior?.p, prior?.n0),
      ctx: () => Math.min(15, colAvg[c] | 0),
    });
  }
  const suffixC = new Counters(1);
  const E = kind === "e5m2" ? 5 : 4;
  let refTop = 64;
  if (cfg.match) models.push({ c: new Counters(65, prior?.p, prior?.n0), ctx: () => refTop });
  const nIn = models.length + (cfg.match ? 1 : 0) + (cfg.suffix ? 1 : 0) + 1;
  const SETS = MIXSEL ? 24 : 8;
  const w = new Float32Array(SETS * nIn).fill(W0);
  const input = new Float32Array(nIn);
  const base = new Int32Array(models.length);
  let bits = 0;
  let ref: Int32Array | null = null;
  const matchC = new Counters(1);
  const flagC = new Counters(1);
  if (cfg.match) {
    ref = referenceRows(sym, rows, cols);
    for (let q = 1; q < rows; q++) {
      const has = ref[q] >= 0 ? 1 : 0;
      const p = clampP(flagC.p[0]);
      bits -= Math.log2(has ? p : 1 - p);
      flagC.update(0, has);
      if (has) bits += Math.log2(Math.min(q, WINDOW));
    }
  }
  for (r = 0; r < rows; r++) {
    prev = 16;
    for (c = 0; c < cols; c++) {
      const i = r * cols + c;
      const s = sym[i];
      above = r > 0 ? sym[i - cols] >> 4 : 16;
      const refSym = ref && ref[r] >= 0 ? sym[ref[r] * cols + c] : -1;
      refTop = refSym >= 0 ? refSym >> 2 : 64;
      for (let m = 0; m < models.length; m++) base[m] = models[m].ctx() * 256;
      let agree = refSym >= 0;
      let node = 1;
      for (let d = 0; d < 8; d++) {
        const bit = (s >> (7 - d)) & 1;
        let k = 0;
        for (let m = 0; m < models.length; m++) {
          const c = models[m].c, at = base[m] + node;
          // A context seen for the first time starts from order 0's estimate, not from 1/2.
          if (INHERIT && m > 0 && c.n[at] === 0) c.p[at] = models[0].c.p[node];
          input[k++] = stretch(clampP(c.p[at]));
        }
        if (cfg.suffix) {
          const si = d < E ? node : (1 << (d - E)) | (node & ((1 << (d - E)) - 1)) | 128;
          input[k++] = stretch(clampP(suffixC.p[si]));
        }
        let expect = 0;
        if (cfg.match) {
          if (agree) {
            expect = (refSym >> (7 - d)) & 1;
            const st = stretch(clampP(matchC.p[d]));
            input[k++] = expect ? st : -st;
          } else input[k++] = 0;
        }
        input[k++] = 0.3;
        const ws = (MIXSEL ? (d < 4 ? node : 12 + d) : d) * nIn;
        let dot = 0;
        for (let j = 0; j < nIn; j++) dot += w[ws + j] * input[j];
        const p = clampP(squash(dot));
        bits -= Math.log2(bit ? p : 1 - p);
        const err = bit - p;
        const lr = Math.max(LR, LR_HI / Math.sqrt(1 + (i << 3 | d) / 1024));
        for (let j = 0; j < nIn; j++) w[ws + j] += lr * err * input[j];
        for (let m = 0; m < models.length; m++) models[m].c.update(base[m] + node, bit);
        if (cfg.suffix) {
          suffixC.update(d < E ? node : (1 << (d - E)) | (node & ((1 << (d - E)) - 1)) | 128, bit);
        }
        if (cfg.match && agree) {
          matchC.update(d, bit === expect ? 1 : 0);
          if (bit !== expect) agree = false;
        }
        node = node * 2 + bit;
      }
      const top = s >> 4;
      prev = top;
      rowAvg += (top - rowAvg) / 4;
      colAvg[c] += (top - colAvg[c]) / 4;
    }
  }
  return bits;
}

/** The value a tree symbol stands for and the width of its cell, for the prior. */
function valueOf(sym: number, kind: SymbolKind): [number, number] {
  if (kind === "e4m3" || kind === "e5m2") {
    const E = kind === "e4m3" ? 4 : 5, M = 7 - E, bias = kind === "e4m3" ? 7 : 15;
    const e = sym >> (8 - E), sign = (sym >> M) & 1, m = sym & ((1 << M) - 1);
    const step = 2 ** ((e === 0 ? 1 : e) - bias - M);
    const v = e === 0 ? m * step : (2 ** M + m) * step;
    return [sign ? -v : v, step];
  }
  if (kind === "int8") return [sym === 1 ? -128 : sym & 1 ? -(sym >> 1) : sym >> 1, 1];
  return [0, 0];
}

/**
 * Tree-node probabilities (of a 1 bit) from a zero-mean Gaussian or Laplacian of scale `scale`
 * over the symbols' values: what a chunk header of 1 byte (family and log-scale) could select.
 */
function priorMass(kind: SymbolKind, beta: number, scale: number): Float64Array {
  const mass = new Float64Array(256);
  const density = (x: number) => Math.exp(-(Math.abs(x) ** beta));
  if (kind === "nibbles") {
    const nib = new Float64Array(16);
    for (let q = 0; q < 16; q++) {
      const x = (q - 8) / scale;
      nib[q] = density(x);
    }
    for (let s = 0; s < 256; s++) mass[s] = nib[s >> 4] * nib[s & 15];
  } else {
    for (let s = 0; s < 256; s++) {
      const [v, w] = valueOf(s, kind);
      const x = v / scale;
      mass[s] = density(x) * w;
      if (!Number.isFinite(mass[s])) mass[s] = 0;
    }
  }
  let total = 0;
  for (let s = 0; s < 256; s++) total += mass[s];
  for (let s = 0; s < 256; s++) mass[s] = mass[s] / total + 1e-5;
  return mass;
}

/** Tree-node probabilities of a 1 bit under `mass`. */
function priorTree(mass: Float64Array): Float32Array {
  // Sums over subtrees, then p(1) at each node.
  const sub = new Float64Array(512);
  for (let s = 0; s < 256; s++) sub[256 + s] = mass[s];
  for (let i = 255; i >= 1; i--) sub[i] = sub[2 * i] + sub[2 * i + 1];
  const p = new Float32Array(256).fill(0.5);
  for (let i = 1; i < 256; i++) p[i] = clampP(sub[2 * i + 1] / sub[i]);
  return p;
}

/** A chunk's prior: tree-node probabilities and the count they start with. */
interface Prior {
  readonly p: Float32Array;
  readonly n0: number;
}

const BETAS = [0.5, 0.75, 1, 1.5, 2];

/**
 * The prior a chunk header of 1 byte could name (shape beta of `exp(-|x/scale|^beta)` from
 * {@link BETAS}, scale `2^(k/4)`, k in [-32, 32)), fitted by the encoder as the one of least
 * cross-entropy against the chunk's histogram.
 */
function fitPrior(sym: Uint8Array, kind: SymbolKind): Float64Array {
  const count = new Float64Array(256);
  for (const s of sym) count[s]++;
  let best: Float64Array | null = null, bestBits = Infinity;
  for (const beta of BETAS) {
    for (let k = -32; k < 32; k++) {
      const unit = kind === "int8" ? 16 : kind === "nibbles" ? 1 : kind === "e5m2" ? 4096 : 16;
      const mass = priorMass(kind, beta, unit * 2 ** (k / 4));
      let bits = 0;
      for (let s = 0; s < 256; s++) if (count[s]) bits -= count[s] * Math.log2(mass[s]);
      if (bits < bestBits) [best, bestBits] = [mass, bits];
    }
  }
  return best!;
}

/** A configuration mixing the named models (the keys of {@link Config} but `name`). */
function config(name: string, models: string): Config {
  const has = (m: string) => models.split(" ").includes(m);
  return {
    name,
    o0: has("o0"),
    prev: has("prev"),
    above: has("above"),
    rowAvg: has("rowAvg"),
    colAvg: has("colAvg"),
    match: has("match"),
    suffix: has("suffix"),
  };
}

const CONFIGS: Config[] = [
  config("o0", "o0"),
  config("o0+prev+col", "o0 prev colAvg"),
  config("all-match", "o0 prev above rowAvg colAvg"),
  config("all", "o0 prev above rowAvg colAvg match"),
  config("all+suffix", "o0 prev above rowAvg colAvg match suffix"),
];

/** Order-0 entropy of `bytes` in bytes (the per-chunk order-0 bound, no table cost). */
const entropyBytes = (bytes: Uint8Array) => entropyBits(bytes) / 8;

/** A size class of tensors, for the breakdown. */
function classOf(name: string, bytes: number): string {
  if (/embed/.test(name)) return "embedding";
  if (bytes <= 1024) return "<=1K";
  if (bytes <= 4096) return "<=4K";
  if (bytes <= 32768) return "<=32K";
  return bytes <= 262144 ? "<=256K" : ">256K";
}

const KIND: Record<string, SymbolKind> = {
  F8_E4M3: "e4m3",
  F8_E5M2: "e5m2",
  I8: "int8",
  U8: "byte",
};

const names = Deno.args.length ? Deno.args : STUDY_INPUTS;
for (const name of names) {
  const path = await studyInput(name, DIR);
  const tsr = `${DIR}/${name}.best.tsr`;
  const index = await packFile(path, tsr, { mode: "best" });
  const file = await Deno.readFile(path);
  const dataStart = 8 + Number(new DataView(file.buffer).getBigUint64(0, true));
  const total = (await Deno.stat(tsr)).size;
  const perConfig: Record<string, number> = {};
  let chosen = 0, today = 0, chunks = 0, symbols = 0, bound = 0;
  const classes: Record<
    string,
    { tensors: number; bytes: number; today: number; cm: number; h0: number }
  > = {};
  const byTensor: { name: string; bytes: number; today: number; cm: number }[] = [];
  for (const t of index.tensors as TensorEntry[]) {
    const kind = t.dtype === "U8" && t.name.endsWith("qweight") ? "nibbles" : KIND[t.dtype];
    const l = t.encodings.find((e) => e.kind === "lossless") as Lossless;
    const stored = l.chunks.reduce((s, c) => s + c[1], 0);
    if (!kind || l.chunks.length === 0) continue;
    const raw = file.subarray(dataStart + t.offsets[0], dataStart + t.offsets[1]);
    const g = geometryOf(t);
    const [gr, gc] = gridSize(g);
    const whole = { r0: 0, r1: g.rows, c0: 0, c1: g.cols };
    let cm = 0, h0 = 0;
    for (let k = 0; k < gr * gc; k++) {
      const rect = tileRect(g, k);
      const rows = rect.r1 - rect.r0, cols = rect.c1 - rect.c0;
      const tile = new Uint8Array(rows * cols);
      copyTileRegion(g, k, tile, whole, raw, true);
      const sym = symbolsOf(tile, kind);
      let best = Infinity;
      const priors: (Prior | null)[] = [null];
      if (PRIOR && kind !== "byte") {
        const tree = priorTree(fitPrior(sym, kind));
        for (const n0 of N0S) priors.push({ p: tree, n0 });
      }
      // The encoder's search: each prior under order 0, then the richer models under the best.
      let prior = priors[0], o0 = Infinity;
      for (const q of priors) {
        const bits = chunkBits(sym, rows, cols, CONFIGS[0], kind, q);
        if (bits < o0) [o0, prior] = [bits, q];
      }
      for (const cfg of CONFIGS) {
        if (cfg !== CONFIGS[0] && !RUN.includes(cfg.name)) continue;
        const bits = cfg === CONFIGS[0] ? o0 : chunkBits(sym, rows, cols, cfg, kind, prior);
        const b = Math.ceil(bits / 8) + 6;
        perConfig[cfg.name] = (perConfig[cfg.name] ?? 0) + b;
        best = Math.min(best, b);
      }
      cm += best;
      h0 += entropyBytes(tile);
      chunks++;
      symbols += tile.length;
    }
    today += stored;
    chosen += Math.min(stored, cm);
    bound += h0;
    const cls = classOf(t.name, raw.length);
    const e = classes[cls] ??= { tensors: 0, bytes: 0, today: 0, cm: 0, h0: 0 };
    e.tensors++, e.bytes += raw.length, e.today += stored, e.cm += cm, e.h0 += Math.round(h0);
    if (raw.length >= 8192) byTensor.push({ name: t.name, bytes: raw.length, today: stored, cm });
  }
  const peers = {
    xz: await compressedSize("xz", ["-6", "-T1", "-c"], file),
    zstd: await compressedSize("zstd", ["-19", "-c"], file),
    bzip2: await compressedSize("bzip2", ["-9", "-c"], file),
  };
  const container = total - today + chosen;
  const strongest = Math.min(peers.xz, peers.zstd, peers.bzip2);
  console.log(JSON.stringify({
    name,
    size: file.length,
    peers,
    best: total,
    overhead: total - today,
    chunksToday: today,
    chunksCm: chosen,
    perConfig,
    order0Bound: Math.round(bound),
    classes,
    chunks,
    symbols,
    cmContainer: container,
    ratioBest: +(file.length / total).toFixed(4),
    ratioCm: +(file.length / container).toFixed(4),
    ratioXz: +(file.length / peers.xz).toFixed(4),
    cmOverStrongest: +(strongest / container).toFixed(4),
    largest: byTensor.sort((a, b) => b.bytes - a.bytes).slice(0, 4),
  }));
}
