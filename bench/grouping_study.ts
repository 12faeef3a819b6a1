/**
 * Measures what container-level designs would save on the quantised inputs (issue 13: `best`
 * trails xz -6 outside the large tensors). It packs each input `best` with the real writer and
 * prints one JSON line per input: the container split into index, stored header, chunks of small
 * (<= 4 KiB) and large tensors, each beside xz -6 of the same bytes; then, as xz -6 size over
 * container size,
 * - (a) small-tensor groups: runs of neighbouring one-chunk tensors of one dtype and layout coded
 *   as one shared chunk by the real chunk encoder (as one row, or in the members' common width), with the index keeping every tensor's SHA-256,
 *   or one SHA-256 per group, or that and chunk records cut to [storedLength, rawXxh32]; also with
 *   tensors to 16 KiB, and grouped by dtype whether neighbours or not;
 * - (c) a cheaper index: no storedXxh32 per chunk; the index coded after the original header in one
 *   zstd stream (as a raw-content dictionary would allow), so names and shapes are not paid twice.
 * Index sizes are the real `JSON.stringify` + zstd -19 of the rewritten index. Design (b), a
 * container-level prior for adaptive planes, is bench/prior_study.ts.
 * Run: deno run -A bench/grouping_study.ts [input names...] (e.g. ppocrv4.e4m3 ppocrv4.bf16)
 * @module
 */
import { encodeChunk, encodeScratch } from "../codec/chunk_encode.ts";
import { type PlaneLayout } from "../codec/dtype.ts";
import { nativeZstdCompress } from "../src/codec_native/zstd.ts";
import { packFile } from "../src/pack/write.ts";
import type { Index, Lossless, TensorEntry } from "../src/container/index_schema.ts";
import { compressedSize, STUDY_DIR, STUDY_INPUTS, studyInput } from "./study_inputs.ts";

const DIR = STUDY_DIR;
const DEFAULT = [...STUDY_INPUTS, "ppocrv4.bf16"];
const CHUNK = 262144;

const input = (name: string) => studyInput(name, DIR);
const xz = (bytes: Uint8Array) => compressedSize("xz", ["-6", "-T1", "-c"], bytes);

const zsize = (index: unknown) =>
  nativeZstdCompress(new TextEncoder().encode(JSON.stringify(index)), 19).length;

const lossless = (t: TensorEntry) => t.encodings.find((e) => e.kind === "lossless") as Lossless;

interface Group {
  members: number[];
  raw: number;
}

/**
 * Groups of small one-chunk tensors (raw bytes in `(0, threshold]`) of one dtype and layout, at
 * most one chunk's bytes each: runs of neighbours when `adjacent`, else every small tensor of a
 * dtype in index order (which would break the rule that chunks lie in data order).
 */
function groupsOf(index: Index, threshold: number, adjacent: boolean): Group[] {
  const groups: Group[] = [];
  const open = new Map<string, Group>();
  const flush = (key: string) => {
    const g = open.get(key);
    if (g && g.members.length > 1) groups.push(g);
    open.delete(key);
  };
  index.tensors.forEach((t, i) => {
    const e = lossless(t);
    const raw = t.offsets[1] - t.offsets[0];
    const small = raw > 0 && raw <= threshold && e.chunks.length === 1;
    const l = e.layout as PlaneLayout;
    const key = `${t.dtype}/${l.width}/${l.signMoved}/${l.packing}`;
    if (!small) {
      if (adjacent) { for (const k of [...open.keys()]) flush(k); }
      return;
    }
    if (adjacent) { for (const k of [...open.keys()]) if (k !== key) flush(k); }
    let g = open.get(key);
    if (g && g.raw + raw > CHUNK) {
      flush(key);
      g = undefined;
    }
    if (!g) open.set(key, g = { members: [], raw: 0 });
    g.members.push(i);
    g.raw += raw;
  });
  for (const k of [...open.keys()]) flush(k);
  return groups;
}

const cat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let pos = 0;
  for (const p of parts) out.set(p, (pos += p.length) - p.length);
  return out;
};

const names = Deno.args.length ? Deno.args : DEFAULT;
await Deno.mkdir(DIR, { recursive: true });
const SMALL = 4096;
for (const name of names) {
  const path = await input(name);
  const tsr = `${DIR}/${name}.best.tsr`;
  const index = await packFile(path, tsr, { mode: "best" });
  const file = await Deno.readFile(path);
  const dataStart = 8 + Number(new DataView(file.buffer).getBigUint64(0, true));
  const total = (await Deno.stat(tsr)).size;
  const head = new DataView((await Deno.readFile(tsr)).buffer);
  const indexStored = head.getUint32(24, true);
  const raw = (t: TensorEntry) => file.subarray(dataStart + t.offsets[0], dataStart + t.offsets[1]);
  const stored = (t: TensorEntry) => lossless(t).chunks.reduce((s, c) => s + c[1], 0);
  const isSmall = (t: TensorEntry) => t.offsets[1] - t.offsets[0] <= SMALL;
  const smalls = index.tensors.filter(isSmall), larges = index.tensors.filter((t) => !isSmall(t));
  const parts = {
    xz: await xz(file),
    best: total,
    index: indexStored,
    header: index.source.header.storedLength,
    xzHeader: await xz(file.subarray(8, dataStart)),
    small: smalls.reduce((s, t) => s + stored(t), 0),
    xzSmall: await xz(cat(smalls.map(raw))),
    large: larges.reduce((s, t) => s + stored(t), 0),
    xzLarge: await xz(cat(larges.map(raw))),
  };
  const scratch = encodeScratch();
  const design = (adjacent: boolean, threshold = SMALL) => {
    let saving = 0, members = 0;
    const groups = groupsOf(index, threshold, adjacent);
    const kept = structuredClone(index) as unknown as { tensors: Record<string, unknown>[] };
    const perGroup = structuredClone(index) as unknown as { tensors: Record<string, unknown>[] };
    const records: unknown[] = [];
    for (const g of groups) {
      const first = index.tensors[g.members[0]];
      const bytes = cat(g.members.map((m) => raw(index.tensors[m])));
      // Members of one width keep the adaptive column context (a writer would record the width);
      // otherwise the group is one row. The smaller coding is kept.
      const widths = new Set(g.members.map((m) => lossless(index.tensors[m]).tile[1]));
      const coded = [1, ...(widths.size === 1 ? widths : [])].map((tileCols) =>
        encodeChunk(bytes, lossless(first).layout as PlaneLayout, {
          mode: "best",
          zstdCompress: nativeZstdCompress,
          scratch,
          dtype: first.dtype,
          tileCols,
        }).slice()
      ).reduce((a, b) => (b.length < a.length ? b : a));
      for (const m of g.members) saving += stored(index.tensors[m]);
      saving -= coded.length;
      members += g.members.length;
      records.push({
        sha256: crypto.randomUUID().replace(/-/g, "") + crypto.randomUUID().replace(/-/g, ""),
        chunk: [lossless(first).chunks[0][0], coded.length, bytes.length, 123456789, 987654321],
      });
      g.members.forEach((m, k) => {
        for (const doc of [kept, perGroup]) {
          const e = (doc.tensors[m].encodings as Record<string, unknown>[])[0];
          delete e.chunks;
          delete e.tile;
          e.group = [records.length - 1, k];
        }
        delete perGroup.tensors[m].sha256;
      });
    }
    // (c) on top: chunk records reduced to [storedLength, rawXxh32] (offsets follow from the
    // order with alignment 1, rawLength from the tiles, storedXxh32 dropped).
    const minimal = structuredClone(perGroup);
    for (const t of minimal.tensors) {
      const e = (t.encodings as Record<string, unknown>[])[0];
      if (e.chunks) e.chunks = (e.chunks as number[][]).map((c) => [c[1], c[4]]);
    }
    const minimalRecords = (records as { sha256: string; chunk: number[] }[]).map((r) => ({
      sha256: r.sha256,
      chunk: [r.chunk[1], r.chunk[4]],
    }));
    return {
      groups: groups.length,
      members,
      saving,
      indexShaKept: zsize({ ...kept, groups: records }),
      indexShaPerGroup: zsize({ ...perGroup, groups: records }),
      indexMinimal: zsize({ ...minimal, groups: minimalRecords }),
    };
  };
  const noStoredXxh = structuredClone(index);
  for (const t of noStoredXxh.tensors) {
    for (const e of t.encodings) {
      const l = e as { chunks?: number[][] };
      if (l.chunks) l.chunks = l.chunks.map((c) => [c[0], c[1], c[2], c[4]]);
    }
  }
  // (c) the index coded in the original header's context (one zstd stream after the header, as a
  // raw-content dictionary would allow), so names, dtypes, shapes and offsets are not paid twice.
  const headerBytes = file.subarray(8, dataStart);
  const zWithHeader = (doc: unknown) => {
    const json = new TextEncoder().encode(JSON.stringify(doc));
    const both = new Uint8Array(headerBytes.length + json.length);
    both.set(headerBytes);
    both.set(json, headerBytes.length);
    return nativeZstdCompress(both, 19).length - nativeZstdCompress(headerBytes, 19).length;
  };
  const afterHeader = zWithHeader(index), afterHeaderNoXxh = zWithHeader(noStoredXxh);
  const a = design(true), a2 = design(false);
  const a16 = design(true, 16384), aAll = design(false, CHUNK);
  const ratio = (chunkSaving: number, idx: number) =>
    +(parts.xz / (total - chunkSaving - indexStored + idx)).toFixed(4);
  console.log(JSON.stringify({
    name,
    size: file.length,
    parts,
    bestOverXz: ratio(0, indexStored),
    c_noStoredXxh32: { index: zsize(noStoredXxh), overXz: ratio(0, zsize(noStoredXxh)) },
    c_afterHeader: { index: afterHeader, overXz: ratio(0, afterHeader) },
    c_afterHeaderNoStoredXxh32: { index: afterHeaderNoXxh, overXz: ratio(0, afterHeaderNoXxh) },
    a_adjacent: {
      ...a,
      overXzShaKept: ratio(a.saving, a.indexShaKept),
      overXzShaPerGroup: ratio(a.saving, a.indexShaPerGroup),
      overXzWithMinimalIndex: ratio(a.saving, a.indexMinimal),
    },
    a_adjacent16K: {
      saving: a16.saving,
      overXzShaPerGroup: ratio(a16.saving, a16.indexShaPerGroup),
      overXzWithMinimalIndex: ratio(a16.saving, a16.indexMinimal),
    },
    a_allOneChunkByDtype: {
      groups: aAll.groups,
      members: aAll.members,
      saving: aAll.saving,
      overXzShaPerGroup: ratio(aAll.saving, aAll.indexShaPerGroup),
      overXzWithMinimalIndex: ratio(aAll.saving, aAll.indexMinimal),
    },
    a_byDtype: {
      ...a2,
      overXzShaPerGroup: ratio(a2.saving, a2.indexShaPerGroup),
      overXzWithMinimalIndex: ratio(a2.saving, a2.indexMinimal),
    },
  }));
}
