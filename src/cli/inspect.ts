/**
 * `inspect <file> [--json]`: per-layer and per-tensor table of a container or a safetensors file.
 * @module
 */
import { parseArgs } from "node:util";
import { losslessOf } from "../container/index_schema.ts";
import { layerKey, layerOrder } from "../container/layers.ts";
import { planeCodecSummary } from "../container/plane_codecs.ts";
import { MAGIC } from "../container/format.ts";
import { openContainerFile } from "../io/container_file.ts";
import { openFileReader } from "../io/random_access.ts";
import { readSafetensorsHeader } from "../safetensors/parse.ts";
import { formatBytes } from "./progress.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const INSPECT_USAGE = "inspect <file.tsr|file.safetensors> [--json]";

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
}

/** Runs `inspect`; returns the exit code. */
export async function inspect(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" } },
  });
  if (positionals.length !== 1) throw new UsageError(INSPECT_USAGE);
  const path = positionals[0];
  const probe = await openFileReader(path);
  const head = await probe.readAt(0, Math.min(8, probe.size));
  probe.close();
  const isContainer = head.length === 8 && head.every((b, i) => b === MAGIC[i]);
  const { rows, summary } = isContainer ? await containerRows(path) : await safetensorsRows(path);
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
  if (values.json) {
    console.log(JSON.stringify({ file: path, ...summary, layers, tensors: rows }, null, 2));
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
  return 0;
}

async function containerRows(
  path: string,
): Promise<{ rows: Row[]; summary: Record<string, unknown> }> {
  const c = await openContainerFile(path);
  try {
    const rows: Row[] = [];
    for (const t of c.index.tensors) {
      const l = losslessOf(t);
      const raw = t.offsets[1] - t.offsets[0], stored = l.chunks.reduce((s, ch) => s + ch[1], 0);
      rows.push({
        name: t.name,
        layer: t.layer,
        dtype: t.dtype,
        shape: t.shape,
        rawBytes: raw,
        storedBytes: stored,
        ratio: stored ? raw / stored : 1,
        codec: await planeCodecSummary(c, t),
        chunks: l.chunks.length,
        tile: l.tile,
      });
    }
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
      },
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
