/**
 * Measures design (b) of issue 13's container gap: a container-level prior for the adaptive planes
 * (codec 5), so that a chunk's tables start from a state learnt once per dtype instead of uniform.
 * For every one-chunk tensor of a 1-byte layout (byte model: FP8, INT8, U8; nibble model: packed
 * INT4) it runs the shared adaptive model (codec/adaptive/model.ts) over the tensor, from fresh
 * tables and from the tables left by a 32 KiB sample of the dtype's data (evenly spaced 256-byte
 * slices), for each context, and takes the ideal code length (-log2 p per symbol, which rANS meets
 * within a few bytes). The saving is the cold estimate minus the warm one (chunk and adaptive
 * headers included), where positive; one stored prior per dtype (34 tables of 15 u16) is charged
 * 1,020 bytes. `stored` beside `cold` shows what the decode-time budget costs: large chunks keep
 * static codes, which a prior does not change.
 * Run after bench/grouping_study.ts (it reads the containers that study packed):
 * deno run -A bench/prior_study.ts [input names...]
 * @module
 */
import zlib from "node:zlib";
import {
  CDF_STRIDE,
  CONTEXT_COLUMN,
  CONTEXT_NONE,
  CONTEXT_PREVIOUS,
  PROB_BITS,
  TABLES,
  TRANSFORM_E4M3,
  TRANSFORM_E5M2,
  TRANSFORM_IDENTITY,
  TRANSFORM_ZIGZAG,
} from "../codec/adaptive/constants.ts";
import {
  contextClass,
  forward,
  freshHistory,
  freshTables,
  remember,
  type Tables,
  update,
} from "../codec/adaptive/model.ts";
import { lanesFor } from "../codec/adaptive/choose.ts";
import type { Index, Lossless, TensorEntry } from "../src/container/index_schema.ts";
import { STUDY_DIR, STUDY_INPUTS } from "./study_inputs.ts";

const DIR = STUDY_DIR;
const DEFAULT = STUDY_INPUTS;
const SAMPLE_SLICES = 128, SLICE = 256, PRIOR_BYTES = TABLES * 15 * 2;

const lossless = (t: TensorEntry) => t.encodings.find((e) => e.kind === "lossless") as Lossless;

function readIndex(tsr: Uint8Array): Index {
  const head = new DataView(tsr.buffer, tsr.byteOffset);
  const offset = Number(head.getBigUint64(16, true)), length = head.getUint32(24, true);
  const stored = tsr.subarray(offset, offset + length);
  const json = head.getUint16(12, true) === 3 ? zlib.zstdDecompressSync(stored) : stored;
  return JSON.parse(new TextDecoder().decode(json));
}

function cloneTables(t: Tables, updates: number | null): Tables {
  const u = updates === null ? t.updates.slice() : new Uint8Array(TABLES).fill(updates);
  return { cdf: t.cdf.slice(), updates: u };
}

/**
 * Ideal code length in bits of `plane` under the byte model (`nibbles` false) or the nibble model,
 * with `context` over `cols` columns, in `lanes` lanes each starting from `initial` (or fresh
 * tables). Returns the bits and lane 0's final tables.
 */
function cost(
  plane: Uint8Array,
  nibbles: boolean,
  variant: number,
  context: number,
  cols: number,
  lanes: number,
  initial: () => Tables,
): { bits: number; tables: Tables } {
  const tables = Array.from({ length: lanes }, initial);
  const history = freshHistory(context, lanes, cols);
  let bits = 0;
  const code = (k: number, t: number, s: number) => {
    const c = tables[k].cdf, b = t * CDF_STRIDE;
    bits += PROB_BITS - Math.log2(c[b + s + 1] - c[b + s]);
    update(tables[k], t, s);
  };
  const n = plane.length;
  for (let k = 0; k < lanes; k++) {
    const b0 = Math.floor((k * n) / lanes), b1 = Math.floor(((k + 1) * n) / lanes);
    for (let j = b0; j < b1; j++) {
      const col = j % cols;
      if (!nibbles) {
        const v = forward(variant, plane[j]), hi = v >> 4;
        code(k, contextClass(history, k, col), hi);
        code(k, 17 + hi, v & 15);
        remember(history, k, col, hi);
      } else {
        const v = plane[j];
        code(k, contextClass(history, k, col), v & 15);
        remember(history, k, col, v & 15);
        code(k, contextClass(history, k, col), v >> 4);
        remember(history, k, col, v >> 4);
      }
    }
  }
  return { bits, tables: tables[0] };
}

function variantOf(dtype: string): number {
  if (dtype === "F8_E4M3") return TRANSFORM_E4M3;
  if (dtype === "F8_E5M2") return TRANSFORM_E5M2;
  if (dtype === "I8") return TRANSFORM_ZIGZAG;
  return TRANSFORM_IDENTITY;
}

const names = Deno.args.length ? Deno.args : DEFAULT;
console.log(
  "input | container | xz -6 | tensors | stored | cold estimate | warm (trained rate) | " +
    "warm (rate 5) | prior saving | container / xz after",
);
for (const name of names) {
  const file = await Deno.readFile(`${DIR}/${name}.safetensors`);
  const tsr = await Deno.readFile(`${DIR}/${name}.best.tsr`);
  const index = readIndex(tsr);
  const dataStart = 8 + Number(new DataView(file.buffer).getBigUint64(0, true));
  const raw = (t: TensorEntry) => file.subarray(dataStart + t.offsets[0], dataStart + t.offsets[1]);
  const xzOut = new Deno.Command("sh", {
    args: ["-c", `xz -6 -T1 -c '${DIR}/${name}.safetensors' | wc -c`],
  }).outputSync();
  const xz = Number(new TextDecoder().decode(xzOut.stdout).trim());
  const priors = new Map<string, Map<number, Tables>>();
  let stored = 0, cold = 0, warmTrained = 0, warmFast = 0, count = 0, saving = 0;
  for (const t of index.tensors) {
    const e = lossless(t);
    if (e.layout.width !== 1 && !e.layout.packing) continue;
    if (e.chunks.length !== 1 || t.offsets[1] === t.offsets[0]) continue;
    const nibbles = !!e.layout.packing, variant = nibbles ? 0 : variantOf(t.dtype);
    const key = `${t.dtype}/${nibbles}`;
    if (!priors.has(key)) {
      const all = index.tensors.filter((u) =>
        u.dtype === t.dtype && !!lossless(u).layout.packing === nibbles
      ).map(raw);
      const data = new Uint8Array(all.reduce((s, a) => s + a.length, 0));
      all.reduce((at, a) => (data.set(a, at), at + a.length), 0);
      const slices = Math.min(SAMPLE_SLICES, Math.floor(data.length / SLICE));
      const step = Math.floor(data.length / slices);
      const sample = new Uint8Array(slices * SLICE);
      for (let k = 0; k < slices; k++) {
        sample.set(data.subarray(k * step, k * step + SLICE), k * SLICE);
      }
      const byContext = new Map<number, Tables>();
      for (const c of [CONTEXT_NONE, CONTEXT_PREVIOUS, CONTEXT_COLUMN]) {
        // The sample has no columns: a column context learns its classes as a running average.
        byContext.set(c, cost(sample, nibbles, variant, c, 1, 1, freshTables).tables);
      }
      priors.set(key, byContext);
      saving -= PRIOR_BYTES;
    }
    const plane = raw(t), cols = e.tile[1], lanes = lanesFor(plane.length);
    const contexts = [CONTEXT_NONE, CONTEXT_PREVIOUS];
    if (plane.length / cols >= 2 && cols > 1) contexts.push(CONTEXT_COLUMN);
    let c0 = Infinity, w0 = Infinity, w1 = Infinity;
    for (const c of contexts) {
      const prior = priors.get(key)!.get(c)!;
      c0 = Math.min(c0, cost(plane, nibbles, variant, c, cols, lanes, freshTables).bits);
      w0 = Math.min(
        w0,
        cost(plane, nibbles, variant, c, cols, lanes, () => cloneTables(prior, null)).bits,
      );
      w1 = Math.min(
        w1,
        cost(plane, nibbles, variant, c, cols, lanes, () => cloneTables(prior, 16)).bits,
      );
    }
    // 1 + 5 chunk header, 6 adaptive header, 4 per lane state, 4 per lane but one stream length.
    const overhead = 6 + 6 + 8 * lanes - 4;
    const warm = overhead + Math.ceil(Math.min(w0, w1) / 8);
    const s = e.chunks[0][1];
    stored += s;
    cold += overhead + Math.ceil(c0 / 8);
    warmTrained += overhead + Math.ceil(w0 / 8);
    warmFast += overhead + Math.ceil(w1 / 8);
    // The prior's own effect: the warm estimate against the cold one. (Against the stored chunk it
    // would also count what adaptive coding saves over the static codes that the decode-time
    // budget picks for large chunks, which a prior does not change.)
    saving += Math.max(0, overhead + Math.ceil(c0 / 8) - warm);
    count++;
  }
  console.log(
    [
      name,
      tsr.length,
      xz,
      count,
      stored,
      cold,
      warmTrained,
      warmFast,
      saving,
      (xz / (tsr.length - saving)).toFixed(4),
    ].join(" | "),
  );
}
