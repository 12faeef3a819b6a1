/**
 * The parts of the variants bench: the ATD anchor, dequantisation speed, stories260k quality with
 * `auto`'s frontier, and per-tensor figures on every shared file. Each returns its JSON and prints
 * its table.
 * @module
 */
import { decodeChunkBytes } from "../../codec/chunk_decode.ts";
import { encodeChunk } from "../../codec/chunk_encode.ts";
import { type Dtype, planeLayout } from "../../codec/dtype.ts";
import { chunkEntry, decodeVariantChunk } from "../../codec/variants/chunk_decode.ts";
import { dequantiseRect } from "../../codec/variants/dequantise.ts";
import { encodeVariant } from "../../codec/variants/encode.ts";
import type { LossyEncoding } from "../../codec/variants/encoding.ts";
import { fromFloat32, toFloat32 } from "../../codec/variants/float.ts";
import { parseSpec, parseSpecList, specName } from "../../codec/variants/spec.ts";
import { packBase3 } from "../../codec/variants/ternary_encode.ts";
import { nativeZstdCompress } from "../../src/codec_native/zstd.ts";
import { deriveFile, variantApplies } from "../../src/pack/derive.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { readRegion } from "../../src/container/read.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { readVariantRegion } from "../../src/container/variant_read.ts";
import { kernelSection } from "../../src/container/decode_block.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { packFile } from "../../src/pack/write.ts";
import { medianCpuMs } from "./cpu_time.ts";
import { klPlan, measureSensitivities, type ModelTensor } from "./judge.ts";
import { createLlama } from "./llama.ts";
import { compare, sampleReference } from "./quality.ts";
import { printTable, sig } from "./table.ts";
import { loadPortableZstd } from "../../codec/zstd_decode.ts";

// Sections decoded without an injected decoder use the portable Zstandard decoder.
await loadPortableZstd();

const mb = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1e3);
const stored = (v: { chunks: { stored: Uint8Array }[] }) =>
  v.chunks.reduce((s, c) => s + c.stored.length, 0);

/** A deterministic standard normal matrix (mulberry32 and Box–Muller). */
export function gaussian(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next())), a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

function withRecords(
  v: {
    encoding: LossyEncoding;
    chunks: { stored: Uint8Array; rawLength: number; storedXxh32: number; rawXxh32: number }[];
  },
): LossyEncoding {
  return {
    ...v.encoding,
    chunks: v.chunks.map((c) => [0, c.stored.length, c.rawLength, c.storedXxh32, c.rawXxh32]),
  } as LossyEncoding;
}

/** The ATD anchor: an n × n Gaussian, N = 1…4 (joint) and N = 3 greedy, both trit packings. */
export function atdAnchor(n: number) {
  const values = gaussian(n * n, 4096);
  const bytes = new Uint8Array(values.buffer);
  const fp16 = n * n * 2;
  const rows: Record<string, unknown>[] = [];
  let rmse1 = 0;
  const options = { mode: "best" as const, zstdCompress: nativeZstdCompress };
  for (const spec of ["ternary:1", "ternary:2", "ternary:3", "ternary:4", "ternary:3:greedy"]) {
    const started = performance.now();
    const v = encodeVariant(
      { dtype: "F32", shape: [n, n], bytes },
      parseSpec(spec) as never,
      spec,
      options,
    );
    const seconds = (performance.now() - started) / 1000;
    const rel = v.encoding.error.relRmse!;
    if (spec === "ternary:1") rmse1 = rel;
    const row: Record<string, unknown> = {
      spec,
      bytes: stored(v),
      shareOfFp16: stored(v) / fp16,
      relRmse: rel,
      rmseVsN1: rel / rmse1,
      encodeSeconds: seconds,
    };
    if (spec === "ternary:3") {
      // The same trits packed 5 per byte, raw and entropy-coded, against the 2-bit element bytes.
      const e = withRecords(v);
      let codes2bit = 0, codedBase3 = 0, rawBase3 = 0, scales = 0;
      v.chunks.forEach((c, i) => {
        const [scaleBytes, trits] = decodeVariantChunk(
          e,
          "F32",
          i,
          chunkEntry(e.chunks, i),
          c.stored,
        );
        const packed = packBase3(trits, 3);
        codes2bit += trits.length;
        rawBase3 += packed.length;
        codedBase3 += encodeChunk(packed, planeLayout("U8"), options).length;
        scales += scaleBytes.length;
      });
      row.packing = {
        elementBytesRaw: codes2bit,
        elementBytesCoded: stored(v) - scales,
        base3Raw: rawBase3,
        base3Coded: codedBase3,
        scaleBytes: scales,
        base3ShareOfFp16: (codedBase3 + scales) / fp16,
      };
    }
    rows.push(row);
  }
  console.log(`\nATD anchor: ${n} x ${n} Gaussian (N(0,1), F32 source; FP16 = ${fp16} bytes)`);
  printTable(
    ["spec", "share of FP16", "rel. RMSE", "RMSE / N=1", "encode s"],
    rows.map((r) => [
      r.spec as string,
      `${((r.shareOfFp16 as number) * 100).toFixed(1)}%`,
      sig(r.relRmse as number),
      (r.rmseVsN1 as number).toFixed(3),
      (r.encodeSeconds as number).toFixed(1),
    ]),
  );
  const p = rows[2].packing as Record<string, number>;
  console.log(
    `ternary:3 trits: element bytes ${p.elementBytesRaw} raw -> ${p.elementBytesCoded} coded; ` +
      `base3 ${p.base3Raw} raw -> ${p.base3Coded} coded (${
        (p.base3ShareOfFp16 * 100).toFixed(1)
      }% ` +
      `of FP16 with scales)`,
  );
  return { n, rows };
}

/**
 * Dequantisation speed, MB of output per CPU second on one thread, for int8 and ternary:3 of an
 * n × n Gaussian-like matrix, BF16 and F32; paired in the same run with a copy of the output, the
 * lossless decode of the same matrix's BF16 chunks, and a scaling loop.
 */
export function dequantSpeed(n: number, runs: number) {
  const values = gaussian(n * n, 7).map((x) => x * 0.02);
  const rows: Record<string, unknown>[] = [];
  for (const dtype of ["BF16", "F32"] as Dtype[]) {
    const bytes = new Uint8Array(n * n * (dtype === "F32" ? 4 : 2));
    fromFloat32(values, dtype, bytes);
    for (const spec of ["int8", "int8:g128", "ternary:3"]) {
      for (const [mode, native] of [["fast", false], ["best", false], ["fast", true]] as const) {
        const v = encodeVariant({ dtype, shape: [n, n], bytes }, parseSpec(spec) as never, spec, {
          mode,
          zstdCompress: nativeZstdCompress,
        });
        const e = withRecords(v);
        const out = new Uint8Array(bytes.length);
        let parts: Uint8Array[][] = [];
        const rect = { r0: 0, r1: n, c0: 0, c1: n };
        const decodeSection = native ? kernelSection(nativeBackends()) : undefined;
        const decodeMs = medianCpuMs(() => {
          parts = v.chunks.map((c, i) =>
            decodeVariantChunk(e, dtype, i, chunkEntry(e.chunks, i), c.stored, { decodeSection })
          );
        }, runs);
        const dequantMs = medianCpuMs(
          () => dequantiseRect(e, dtype, rect, (i) => parts[i], out),
          runs,
        );
        rows.push({
          dtype,
          spec,
          mode,
          decoder: native ? "native" : "typescript",
          outputBytes: out.length,
          storedBytes: stored(v),
          entropyDecodeMBs: mb(out.length, decodeMs),
          dequantiseMBs: mb(out.length, dequantMs),
          totalMBs: mb(out.length, decodeMs + dequantMs),
        });
      }
    }
  }
  // Baselines on the same machine, same run.
  const bf16 = new Uint8Array(n * n * 2);
  fromFloat32(values, "BF16", bf16);
  const layout = planeLayout("BF16");
  const chunk = 262144;
  const stored16: Uint8Array[] = [];
  for (let at = 0; at < bf16.length; at += chunk) {
    stored16.push(encodeChunk(bf16.subarray(at, at + chunk), layout, { mode: "fast" }));
  }
  const scratch = new Uint8Array(2 * chunk + 64), plane = new Uint8Array(chunk);
  const losslessMs = medianCpuMs(() => {
    stored16.forEach((s, i) =>
      decodeChunkBytes(s, layout, plane.subarray(0, Math.min(chunk, bf16.length - i * chunk)), {
        scratch,
      })
    );
  }, runs);
  const copy = new Uint8Array(bf16.length);
  const copyMs = medianCpuMs(() => copy.set(bf16), runs);
  const f = toFloat32(bf16, "BF16"), g = new Float32Array(f.length);
  const loopMs = medianCpuMs(() => {
    for (let i = 0; i < f.length; i++) g[i] = f[i] * 1.5;
  }, runs);
  const baselines = {
    losslessBf16FastMBs: mb(bf16.length, losslessMs),
    copyMBs: mb(bf16.length, copyMs),
    f32ScaleLoopMBs: mb(g.length * 4, loopMs),
  };
  console.log(`\nDequantisation speed, ${n} x ${n}, MB of output per CPU second, one thread`);
  printTable(
    ["output", "variant", "payload", "entropy decode", "dequantise", "both"],
    rows.map((r) => [
      r.dtype as string,
      r.spec as string,
      `${r.mode}, ${r.decoder}`,
      (r.entropyDecodeMBs as number).toFixed(0),
      (r.dequantiseMBs as number).toFixed(0),
      (r.totalMBs as number).toFixed(0),
    ]),
  );
  console.log(
    `same run: lossless BF16 decode (fast, TypeScript) ${
      baselines.losslessBf16FastMBs.toFixed(0)
    } ` +
      `MB/s, copy ${baselines.copyMBs.toFixed(0)} MB/s, F32 scale loop ${
        baselines.f32ScaleLoopMBs.toFixed(0)
      } MB/s`,
  );
  return { n, runs, rows, baselines };
}

/** Variant specs judged on stories260k. */
export const STORIES_SPECS = [
  "fp16",
  "bf16",
  "int8",
  "int8:asym",
  "int8:g64",
  "int8:g16",
  "ternary:1",
  "ternary:2",
  "ternary:3",
  "ternary:3:greedy",
  "ternary:4",
  "ternary:4:g16",
  "svd:energy=0.99",
  "svd:energy=0.999",
  "sparse:keep=0.5",
  "sparse:keep=0.8",
];

/** Per variant on stories260k: size against BF16, KL and top-1 over the evaluation set. */
export async function storiesQuality(
  dataDir: string,
  work: string,
  options: { sequences: number; length: number; rmseBudgets: number[]; klBudgets: number[] },
) {
  const fp32 = `${dataDir}stories260k.fp32.safetensors`;
  const bf16Size = (await Deno.stat(`${dataDir}stories260k.bf16.safetensors`)).size;
  const lossless = `${work}/stories.fp32.tsr`;
  await packFile(fp32, lossless, { mode: "best" });
  const base = await openContainerFile(lossless);
  const weights = new Map<string, Float32Array>();
  const tensors: ModelTensor[] = [];
  for (const t of base.index.tensors) {
    const bytes = await readRegion(base, t);
    weights.set(t.name, toFloat32(bytes, t.dtype));
    const losslessBytes = losslessOf(t).chunks.reduce((s, c) => s + c[1], 0);
    tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, bytes, losslessBytes });
  }
  const chunkBytes = base.index.chunkBytes;
  base.source.close();
  const ref = sampleReference(createLlama(weights), options.sequences, options.length, 1);
  const points: Record<string, unknown>[] = [];
  const judge = async (name: string, path: string, kind: "single" | "auto" | "reference") => {
    const c = await openContainerFile(path);
    try {
      const w = new Map<string, Float32Array>();
      const perTensor: Record<string, number | null> = {};
      for (const t of c.index.tensors) {
        const isRef = kind === "reference";
        w.set(
          t.name,
          toFloat32(isRef ? await readRegion(c, t) : await readVariantRegion(c, t, name), t.dtype),
        );
        if (isRef) continue;
        const e = t.encodings.find((x) => (x as { name?: string }).name === name) as
          | { kind: string; error?: { relRmse: number | null } }
          | undefined;
        if (e && e.kind !== "exact") perTensor[t.name] = e.error!.relRmse;
      }
      const size = (await Deno.stat(path)).size;
      const q = compare(createLlama(w), ref);
      const point = {
        name,
        kind,
        bytes: size,
        ratioVsBf16: bf16Size / size,
        meanKl: q.meanKl,
        top1: q.top1,
        perTensorRelRmse: perTensor,
      };
      points.push(point);
      return point;
    } finally {
      c.source.close();
    }
  };
  await judge("fp32 (lossless container)", lossless, "reference");
  for (const spec of STORIES_SPECS) {
    const path = `${work}/stories.${spec.replaceAll(":", "_")}.tsr`;
    await deriveFile(lossless, path, { specs: parseSpecList(spec), variantOnly: true });
    await judge(spec, path, "single");
  }
  for (const b of options.rmseBudgets) {
    const spec = `auto:rmse=${b}`;
    const path = `${work}/stories.auto_rmse_${b}.tsr`;
    await deriveFile(lossless, path, { specs: parseSpecList(spec), variantOnly: true });
    await judge(spec, path, "auto");
  }
  const started = performance.now();
  const sens = measureSensitivities(
    tensors,
    weights,
    { sequences: 2, length: 64, seed: 2 },
    chunkBytes,
  );
  const sensitivitySeconds = (performance.now() - started) / 1000;
  for (const b of options.klBudgets) {
    const spec = `auto:kl=${b}`;
    const path = `${work}/stories.auto_kl_${b}.tsr`;
    await deriveFile(lossless, path, {
      specs: parseSpecList(spec),
      variantOnly: true,
      klChoices: new Map([[spec, klPlan(sens, b)]]),
    });
    await judge(spec, path, "auto");
  }
  // An auto point is dominated if one single variant is no larger and no worse, and better in one.
  const singles = points.filter((p) => p.kind === "single");
  for (const p of points.filter((x) => x.kind === "auto")) {
    const by = singles.filter((s) =>
      (s.bytes as number) <= (p.bytes as number) && (s.meanKl as number) <= (p.meanKl as number) &&
      ((s.bytes as number) < (p.bytes as number) || (s.meanKl as number) < (p.meanKl as number))
    );
    p.dominatedBy = by.map((s) => s.name);
  }
  console.log(
    `\nstories260k: ${ref.positions} positions (${options.sequences} sequences of ${options.length} ` +
      `sampled from FP32 at temperature 1, seed 1); size of the variant-only container against ` +
      `the BF16 file (${bf16Size} bytes)`,
  );
  printTable(
    ["weights", "bytes", "vs BF16", "mean KL (nats)", "top-1", "median rel. RMSE", "dominated by"],
    points.map((p) => {
      const rel = Object.values(p.perTensorRelRmse as Record<string, number>).sort((a, b) => a - b);
      return [
        p.name as string,
        String(p.bytes),
        `${(p.ratioVsBf16 as number).toFixed(2)}x`,
        sig(p.meanKl as number),
        `${((p.top1 as number) * 100).toFixed(1)}%`,
        rel.length ? sig(rel[rel.length >> 1]) : "-",
        p.kind === "auto" ? ((p.dominatedBy as string[]).join(", ") || "none") : "",
      ];
    }),
  );
  const nonDominated = points.filter((p) =>
    p.kind === "auto" && (p.dominatedBy as string[]).length === 0
  );
  console.log(
    `auto points no single variant beats on both size and KL: ${nonDominated.length} ` +
      `(${nonDominated.map((p) => p.name).join(", ")}); sensitivities: ${sens.positions} ` +
      `calibration positions (seed 2), ${sensitivitySeconds.toFixed(0)} s`,
  );
  return {
    positions: ref.positions,
    bf16Bytes: bf16Size,
    points,
    calibrationPositions: sens.positions,
    sensitivitySeconds,
  };
}

/** Variants measured per tensor on every shared file. */
export const SHARED_SPECS = [
  "int8",
  "int8:g64",
  "fp16",
  "bf16",
  "ternary:2",
  "ternary:3",
  "svd:energy=0.99",
  "sparse:keep=0.5",
];

/** Per-tensor relative RMSE and size per variant on every shared file. */
export async function sharedFiles(dataDir: string, work: string, files: string[]) {
  const results: Record<string, unknown>[] = [];
  for (const file of files) {
    const path = `${dataDir}${file}`;
    const packed = `${work}/${file}.tsr`;
    await packFile(path, packed, { mode: "best" });
    const c = await openContainerFile(packed);
    const size = (await Deno.stat(path)).size, losslessSize = (await Deno.stat(packed)).size;
    const perSpec = new Map<string, { bytes: number; rel: number[]; seconds: number }>();
    const tensorRows: unknown[] = [];
    try {
      for (const t of c.index.tensors) {
        const lossless = t.encodings.some((e) => e.kind === "lossless")
          ? losslessOf(t).chunks.reduce((s, ch) => s + ch[1], 0)
          : 0;
        const row: Record<string, unknown> = {
          name: t.name,
          dtype: t.dtype,
          shape: t.shape,
          lossless,
        };
        const applies = variantApplies(t);
        const bytes = applies ? await readRegion(c, t) : null;
        for (const spec of SHARED_SPECS) {
          const acc = perSpec.get(spec) ?? { bytes: 0, rel: [], seconds: 0 };
          perSpec.set(spec, acc);
          const parsed = parseSpec(spec);
          const same = parsed.kind === "cast" && parsed.dtype === t.dtype;
          if (!applies || same) {
            acc.bytes += lossless;
            continue;
          }
          const started = performance.now();
          const v = encodeVariant(
            { dtype: t.dtype, shape: t.shape, bytes: bytes! },
            parsed as never,
            specName(parsed),
            {
              mode: "best",
              zstdCompress: nativeZstdCompress,
              chunkBytes: c.index.chunkBytes,
            },
          );
          acc.seconds += (performance.now() - started) / 1000;
          acc.bytes += stored(v);
          const rel = v.encoding.error.relRmse;
          if (rel !== null) acc.rel.push(rel);
          row[spec] = [stored(v), rel];
        }
        if (applies) tensorRows.push(row);
      }
    } finally {
      c.source.close();
    }
    const specs = SHARED_SPECS.map((spec) => {
      const a = perSpec.get(spec)!;
      const rel = a.rel.sort((x, y) => x - y);
      return {
        spec,
        bytes: a.bytes,
        ratioVsOriginal: size / a.bytes,
        ratioVsLossless: losslessSize / a.bytes,
        medianRelRmse: rel.length ? rel[rel.length >> 1] : null,
        maxRelRmse: rel.length ? rel[rel.length - 1] : null,
        encodeSeconds: a.seconds,
      };
    });
    results.push({ file, bytes: size, losslessBytes: losslessSize, specs, tensors: tensorRows });
    console.log(
      `\n${file}: ${size} bytes, lossless ${losslessSize}; ${tensorRows.length} tensors take variants`,
    );
    printTable(
      [
        "variant",
        "bytes",
        "vs original",
        "vs lossless",
        "median rel. RMSE",
        "max rel. RMSE",
        "encode s",
      ],
      specs.map((s) => [
        s.spec,
        String(s.bytes),
        `${s.ratioVsOriginal.toFixed(2)}x`,
        `${s.ratioVsLossless.toFixed(2)}x`,
        s.medianRelRmse === null ? "-" : sig(s.medianRelRmse),
        s.maxRelRmse === null ? "-" : sig(s.maxRelRmse),
        s.encodeSeconds.toFixed(1),
      ]),
    );
  }
  return results;
}
