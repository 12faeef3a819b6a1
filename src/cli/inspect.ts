/**
 * `inspect <file> [--json]`: per-layer and per-tensor table of a container or a safetensors file.
 * @module
 */
import { losslessOf } from "../container/index_schema.ts";
import { isLossy } from "../../codec/variants/encoding.ts";
import { type VariantStats, variantStats } from "../container/variant_stats.ts";
import { layerKey, layerOrder } from "../container/layers.ts";
import { planeCodecSummary } from "../container/plane_codecs.ts";
import { MAGIC } from "../container/format.ts";
import { openContainerFile } from "../io/container_file.ts";
import { openFileReader } from "../io/random_access.ts";
import { readSafetensorsHeader } from "../safetensors/parse.ts";
import { formatBytes } from "./progress.ts";
import { UsageError } from "./usage_error.ts";
import { parseOptions } from "./args.ts";

/** Usage line of the command. */
export const INSPECT_USAGE = "inspect <file.tsr|file.safetensors> [--json]";

/** One representation of a tensor: the lossless one or a variant's. */
interface Representation {
  name: string;
  kind: string;
  storedBytes: number;
  ratio: number;
  relRmse: number | null;
  maxAbs: number | null;
  reason: string;
}

interface Row {
  name: string;
  layer: string;
  dtype: string;
  shape: number[];
  rawBytes: number;
  storedBytes: number;
  ratio: number;
  codec: string;
  chunks: number;
  tile: [number, number] | null;
  representations?: Representation[];
}

/** Runs `inspect`; returns the exit code. */
export async function inspect(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { flag: true } });
  if (positionals.length !== 1) throw new UsageError(INSPECT_USAGE);
  const path = positionals[0];
  const probe = await openFileReader(path);
  const head = await probe.readAt(0, Math.min(8, probe.size));
  probe.close();
  const isContainer = head.length === 8 && head.every((b, i) => b === MAGIC[i]);
  const { rows, summary, variants } = isContainer
    ? await containerRows(path)
    : { ...(await safetensorsRows(path)), variants: [] };
  const layers = layerOrder(rows.map((r) => r.layer)).map((key) => {
    const members = rows.filter((r) => r.layer === key);
    const raw = members.reduce((s, r) => s + r.rawBytes, 0),
      stored = members.reduce((s, r) => s + r.storedBytes, 0);
    return {
      key,
      tensors: members.length,
      rawBytes: raw,
      storedBytes: stored,
      ratio: stored ? raw / stored : 1,
    };
  });
  if (values.json !== undefined) {
    console.log(
      JSON.stringify({ file: path, ...summary, variants, layers, tensors: rows }, null, 2),
    );
    return 0;
  }
  console.log(`${path}: ${Object.entries(summary).map(([k, v]) => `${k} ${v}`).join(", ")}\n`);
  printTable(
    ["layer", "tensors", "raw", "stored", "ratio"],
    layers.map((
      l,
    ) => [
      l.key,
      String(l.tensors),
      formatBytes(l.rawBytes),
      formatBytes(l.storedBytes),
      l.ratio.toFixed(3),
    ]),
  );
  console.log("");
  printTable(
    ["tensor", "dtype", "shape", "raw", "stored", "ratio", "codec", "tile"],
    rows.map((r) => [
      r.name,
      r.dtype,
      `[${r.shape.join(",")}]`,
      formatBytes(r.rawBytes),
      formatBytes(r.storedBytes),
      r.ratio.toFixed(3),
      r.codec,
      r.tile ? `${r.tile[0]}x${r.tile[1]}` : "-",
    ]),
  );
  if (variants.length > 0) printVariants(rows, variants);
  return 0;
}

function printVariants(rows: Row[], variants: VariantStats[]): void {
  console.log("");
  printTable(
    ["variant", "lossy", "stored", "ratio", "avg ratio", "saved", "derive/t", "decode/t", "kinds"],
    variants.map((v) => [
      v.name,
      `${v.lossyTensors}/${v.tensors}`,
      formatBytes(v.storedBytes),
      v.ratio.toFixed(3),
      v.averageRatio.toFixed(3),
      formatBytes(v.savedBytes),
      `${v.deriveMsPerTensor.toFixed(1)} ms`,
      `${v.decodeMsPerTensor.toFixed(3)} ms`,
      Object.entries(v.kinds).map(([k, n]) => `${k} ${n}`).join(", "),
    ]),
  );
  console.log("");
  const fmt = (x: number | null) => (x === null ? "inf" : x === 0 ? "0" : x.toExponential(2));
  printTable(
    ["tensor", "representation", "kind", "stored", "ratio", "rel. RMSE", "max |err|"],
    rows.flatMap((r) =>
      (r.representations ?? []).map((p) => [
        r.name,
        p.name,
        p.kind,
        formatBytes(p.storedBytes),
        p.ratio.toFixed(3),
        fmt(p.relRmse),
        fmt(p.maxAbs),
      ])
    ),
  );
}

async function containerRows(
  path: string,
): Promise<{ rows: Row[]; summary: Record<string, unknown>; variants: VariantStats[] }> {
  const c = await openContainerFile(path);
  try {
    const rows: Row[] = [];
    const names = (c.index.variants ?? []).map((v) => v.name);
    for (const t of c.index.tensors) {
      const raw = t.offsets[1] - t.offsets[0];
      const l = t.encodings.some((e) => e.kind === "lossless") ? losslessOf(t) : null;
      const stored = l ? l.chunks.reduce((s, ch) => s + ch[1], 0) : 0;
      const representations: Representation[] = l
        ? [{
          name: "lossless",
          kind: "lossless",
          storedBytes: stored,
          ratio: stored ? raw / stored : 1,
          relRmse: 0,
          maxAbs: 0,
          reason: "",
        }]
        : [];
      for (const n of names) {
        const e = t.encodings.find((x) => (x as { name?: string }).name === n);
        if (e && isLossy(e)) {
          const bytes = e.chunks.reduce((s, ch) => s + ch[1], 0);
          representations.push({
            name: n,
            kind: e.kind,
            storedBytes: bytes,
            ratio: bytes ? raw / bytes : 1,
            ...e.error,
            reason: e.reason,
          });
        }
      }
      rows.push({
        name: t.name,
        layer: t.layer,
        dtype: t.dtype,
        shape: t.shape,
        rawBytes: raw,
        storedBytes: stored,
        ratio: stored ? raw / stored : 1,
        codec: l ? await planeCodecSummary(c, t) : "variant-only",
        chunks: l ? l.chunks.length : 0,
        tile: l ? l.tile : null,
        ...(names.length > 0 ? { representations } : {}),
      });
    }
    const variants = names.map((n) => variantStats([c.index], n));
    const size = c.source.size;
    return {
      rows,
      summary: {
        format: `tessera v${c.index.version}`,
        mode: c.index.mode,
        originalBytes: c.index.source.size,
        containerBytes: size,
        ratio: Number((c.index.source.size / size).toFixed(4)),
        sha256: c.index.source.sha256,
        alignment: c.index.alignment,
        ...(c.index.tensors.every((t) => t.encodings.some((e) => e.kind === "lossless"))
          ? {}
          : { variantOnly: true }),
      },
      variants,
    };
  } finally {
    c.source.close();
  }
}

async function safetensorsRows(
  path: string,
): Promise<{ rows: Row[]; summary: Record<string, unknown> }> {
  const reader = await openFileReader(path);
  try {
    const h = await readSafetensorsHeader(reader);
    const rows = h.tensors.map((t): Row => ({
      name: t.name,
      layer: layerKey(t.name),
      dtype: t.dtype,
      shape: t.shape,
      rawBytes: t.end - t.begin,
      storedBytes: t.end - t.begin,
      ratio: 1,
      codec: "none",
      chunks: 0,
      tile: null,
    }));
    return { rows, summary: { format: "safetensors", bytes: reader.size, tensors: rows.length } };
  } finally {
    reader.close();
  }
}

function printTable(head: string[], body: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of body) console.log(line(r));
}
