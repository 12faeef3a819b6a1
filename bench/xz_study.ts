/**
 * Issue 13, round 4: where `xz -6` gains over `best` on the quantised inputs (stories260k above
 * all). For each input it prints one JSON line with
 * - `xz -6` of the whole file under LZMA2 variants: literal context bits (`lc`), position bits
 *   (`lp`, `pb`), a stronger match finder, and a fast mode with short matches (`nice=2`), to see
 *   how much of xz's size comes from literal contexts and how much from matches;
 * - the tensors' bytes by class (embedding, tensors up to 4 KiB, the rest), each as: order-0
 *   entropy summed per tensor (the per-chunk order-0 bound), `xz -6` of each tensor alone summed,
 *   and `xz -6` of the class concatenated (what sharing one model across tensors buys);
 * - the ideal code length of LZMA's own literal coder (a 255-node bit tree, 11-bit probabilities
 *   moving 1/32 of the way per bit, no contexts, no matches) per tensor and across the whole file:
 *   what adaptation alone, without matches, gives;
 * - reference rows, a static transform that needs no adaptive coder: each row of a tensor (seen as
 *   `[product of leading dims, last dim]`, up to 256 KiB) names the row among the 255 before it
 *   with most equal bytes (at least a quarter), and is coded as its bytewise difference from that
 *   row; the order-0 entropy of those differences plus that of the rows without a reference plus
 *   the side information (1 bit per row, 8 bits per reference), kept where smaller than the
 *   tensor's order-0 entropy.
 *
 * Run: deno run -A bench/xz_study.ts [input names...] (default: the three stories260k quantised)
 * @module
 */
import { readSafetensorsHeader } from "../src/safetensors/parse.ts";
import { bufferReader } from "../src/io/random_access.ts";
import { entropyBits } from "./bounds.ts";
import { compressedSize, studyInput } from "./study_inputs.ts";

const DIR = Deno.env.get("STUDY_DIR") ?? "/tmp/codec13-study";

const xz = (bytes: Uint8Array, args: string[] = ["-6"]) =>
  compressedSize("xz", [...args, "-T1", "-c"], bytes);

/** Order-0 entropy of `bytes`, in bytes. */
const entropy = (bytes: Uint8Array) => entropyBits(bytes) / 8;

/** Ideal length in bytes of LZMA's literal coder over `parts`, fresh per part or shared. */
function literalCoder(parts: Uint8Array[], shared: boolean): number {
  let p = new Uint16Array(256), bits = 0;
  p.fill(1024);
  for (const part of parts) {
    if (!shared) (p = new Uint16Array(256)).fill(1024);
    for (const s of part) {
      let node = 1;
      for (let d = 7; d >= 0; d--) {
        const bit = (s >> d) & 1, q = p[node];
        bits -= Math.log2(bit ? 1 - q / 2048 : q / 2048);
        p[node] = bit ? q - (q >> 5) : q + ((2048 - q) >> 5);
        node = node * 2 + bit;
      }
    }
  }
  return bits / 8;
}

/** Order-0 size in bytes of `m` (`rows × cols`) coded by reference rows (see the module doc). */
function referenceRows(m: Uint8Array, rows: number, cols: number): number {
  const delta: number[] = [], plain: number[] = [];
  let side = 0;
  for (let r = 0; r < rows; r++) {
    let best = -1, bestEq = Math.max(2, cols >> 2) - 1;
    for (let q = Math.max(0, r - 255); q < r; q++) {
      let eq = 0;
      for (let c = 0; c < cols; c++) if (m[r * cols + c] === m[q * cols + c]) eq++;
      if (eq > bestEq) [best, bestEq] = [q, eq];
    }
    if (r > 0) side += best >= 0 ? 9 : 1;
    for (let c = 0; c < cols; c++) {
      if (best >= 0) delta.push((m[r * cols + c] - m[best * cols + c]) & 255);
      else plain.push(m[r * cols + c]);
    }
  }
  return entropy(Uint8Array.from(delta)) + entropy(Uint8Array.from(plain)) + side / 8;
}

const cat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let pos = 0;
  for (const p of parts) out.set(p, (pos += p.length) - p.length);
  return out;
};

const VARIANTS: Record<string, string[]> = {
  "-6": ["-6"],
  "lc0 lp0 pb0": ["--lzma2=preset=6,lc=0,lp=0,pb=0"],
  "lc3 lp0 pb0": ["--lzma2=preset=6,lc=3,lp=0,pb=0"],
  "lc0 lp2 pb2": ["--lzma2=preset=6,lc=0,lp=2,pb=2"],
  "hc4 nice273": ["--lzma2=preset=6,mf=hc4,nice=273"],
  "fast hc3 nice2 depth1": ["--lzma2=preset=6,mode=fast,mf=hc3,nice=2,depth=1"],
  "-9e": ["-9e"],
};

const names = Deno.args.length
  ? Deno.args
  : ["stories260k.e4m3", "stories260k.e5m2", "stories260k.int8"];
for (const name of names) {
  const file = await Deno.readFile(await studyInput(name, DIR));
  const h = await readSafetensorsHeader(bufferReader(file));
  const tensors = h.tensors.map((t) => ({
    name: t.name,
    shape: t.shape,
    bytes: file.subarray(h.dataStart + t.begin, h.dataStart + t.end),
  }));
  let order0 = 0, withReferences = 0;
  const gains: [string, number][] = [];
  for (const t of tensors) {
    const h0 = entropy(t.bytes);
    const cols = t.shape.length ? t.shape[t.shape.length - 1] : 1;
    const rows = cols ? t.bytes.length / cols : 0;
    let best = h0;
    if (rows >= 2 && cols >= 8 && t.bytes.length <= 262144) {
      best = Math.min(h0, referenceRows(t.bytes, rows, cols));
      if (best < h0) gains.push([t.name, Math.round(h0 - best)]);
    }
    order0 += h0;
    withReferences += best;
  }
  const xzOptions: Record<string, number> = {};
  for (const [k, args] of Object.entries(VARIANTS)) xzOptions[k] = await xz(file, args);
  const classOf = (t: { name: string; bytes: Uint8Array }) =>
    /embed/.test(t.name) ? "embedding" : t.bytes.length <= 4096 ? "<=4K" : ">4K";
  const classes: Record<string, Record<string, number>> = {};
  for (const cls of ["embedding", "<=4K", ">4K"]) {
    const parts = tensors.filter((t) => classOf(t) === cls).map((t) => t.bytes);
    let alone = 0;
    for (const p of parts) alone += await xz(p);
    classes[cls] = {
      tensors: parts.length,
      bytes: parts.reduce((s, p) => s + p.length, 0),
      order0PerTensor: Math.round(parts.reduce((s, p) => s + entropy(p), 0)),
      xzAlone: alone,
      xzConcatenated: await xz(cat(parts)),
    };
  }
  const all = tensors.map((t) => t.bytes);
  console.log(JSON.stringify({
    name,
    size: file.length,
    referenceRows: {
      order0PerTensor: Math.round(order0),
      withReferenceRows: Math.round(withReferences),
      tensorsThatGain: gains.length,
      largestGains: gains.sort((a, b) => b[1] - a[1]).slice(0, 3),
    },
    xzOptions,
    classes,
    literalCoder: {
      perTensor: Math.round(literalCoder(all, false)),
      wholeFile: Math.round(literalCoder(all, true)),
      order0PerTensor: Math.round(all.reduce((s, p) => s + entropy(p), 0)),
      order0WholeFile: Math.round(entropy(cat(all))),
    },
  }));
}
