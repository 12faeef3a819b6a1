/**
 * Measures what context modelling would save over order-0 rANS, with real table costs, on the
 * shared real weights: (A) the sign/mantissa plane conditioned on a class of the element's own
 * exponent, (B) the exponent conditioned on a class of the previous exponent, (C) the exponent
 * conditioned on a class of the exponent above it (a per-column context). Classes: the K-1
 * most frequent exponents of the chunk get one each, the rest share one.
 * Run: deno run -A bench/context_study.ts [files...]
 * @module
 */
import { planeLayout } from "../codec/dtype.ts";
import { splitPlanes } from "../codec/planes.ts";
import { ransBound, ransEncode } from "../codec/rans/encode.ts";
import { chooseTiles, copyTileRegion, gridSize, tileRect } from "../codec/tiles.ts";
import { openFileReader } from "../src/io/random_access.ts";
import { readSafetensorsHeader } from "../src/safetensors/parse.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const scratch = new Uint8Array(ransBound(1 << 20));

function coded(plane: Uint8Array): number {
  if (plane.length === 0) return 0;
  let distinct = false;
  for (let i = 1; i < plane.length; i++) if (plane[i] !== plane[0]) distinct = true;
  if (!distinct) return 1;
  return Math.min(plane.length, ransEncode(plane, scratch));
}

function classesOf(exp: Uint8Array, k: number): Uint8Array {
  const counts = new Uint32Array(256);
  for (const e of exp) counts[e]++;
  const top = [...counts.keys()].sort((a, b) => counts[b] - counts[a]).slice(0, k - 1);
  const cls = new Uint8Array(256);
  top.forEach((e, i) => cls[e] = i + 1);
  return cls;
}

function split(plane: Uint8Array, ctx: Uint8Array, k: number): number {
  const parts: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < plane.length; i++) parts[ctx[i]].push(plane[i]);
  return parts.reduce((s, p) => s + coded(Uint8Array.from(p)), 0) + k + 4;
}

const files = Deno.args.length
  ? Deno.args
  : [...Deno.readDirSync(DATA)].map((e) => e.name).filter((n) => n.endsWith(".safetensors")).sort();
console.log("file | exp+mantissa planes, order-0 | A K=2 | A K=4 | A K=8 | B K=4 | B K=8 | C K=8");
for (const f of files) {
  const reader = await openFileReader(new URL(f, DATA).pathname);
  const h = await readSafetensorsHeader(reader);
  const totals = { base: 0, a2: 0, a4: 0, a8: 0, b4: 0, b8: 0, c8: 0 };
  for (const t of h.tensors) {
    const layout = planeLayout(t.dtype);
    if (layout.width < 2) continue;
    const g = chooseTiles(t.shape, layout.width, 256 * 1024);
    const data = await reader.readAt(h.dataStart + t.begin, t.end - t.begin);
    const [gr, gc] = gridSize(g);
    for (let i = 0; i < gr * gc; i++) {
      const r = tileRect(g, i);
      const tile = new Uint8Array((r.r1 - r.r0) * (r.c1 - r.c0) * g.width);
      copyTileRegion(g, i, tile, { r0: 0, r1: g.rows, c0: 0, c1: g.cols }, data, true);
      const n = tile.length / layout.width;
      const planes = Array.from({ length: layout.width }, () => new Uint8Array(n));
      splitPlanes(tile, layout.width, layout.signMoved, planes);
      const exp = planes[layout.width - 1], man = planes[layout.width - 2];
      const base = coded(exp) + coded(man);
      totals.base += base;
      for (const [key, k] of [["a2", 2], ["a4", 4], ["a8", 8]] as const) {
        const cls = classesOf(exp, k);
        const ctx = exp.map((e) => cls[e]);
        totals[key] += Math.min(base, coded(exp) + split(man, ctx, k));
      }
      for (const [key, k] of [["b4", 4], ["b8", 8]] as const) {
        const cls = classesOf(exp, k);
        const ctx = new Uint8Array(n);
        for (let j = 1; j < n; j++) ctx[j] = cls[exp[j - 1]];
        totals[key] += Math.min(base, split(exp, ctx, k) + coded(man));
      }
      {
        // C: the exponent above (same column, previous row of the tile): a per-column class.
        const cols = r.c1 - r.c0, cls = classesOf(exp, 8), ctx = new Uint8Array(n);
        for (let j = cols; j < n; j++) ctx[j] = cls[exp[j - cols]];
        totals.c8 += Math.min(base, split(exp, ctx, 8) + coded(man));
      }
    }
  }
  reader.close();
  const pct = (v: number) => `${((v / totals.base - 1) * 100).toFixed(2)}%`;
  console.log(
    `${f} | ${totals.base} | ${pct(totals.a2)} | ${pct(totals.a4)} | ${pct(totals.a8)} | ${
      pct(totals.b4)
    } | ${pct(totals.b8)} | ${pct(totals.c8)}`,
  );
}
