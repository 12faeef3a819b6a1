/**
 * Serving variants against serving the original, through the real server on loopback: whole
 * tensors and 256 × 256 tiles of 2048 × 2048 BF16 matrices, lossless against `?variant=` int8 per
 * row, int8 in groups of 128 and ternary:3 (dequantised to BF16), and the raw int8 payload; in
 * the same run, taken in turn and reported as medians, in MB/s of the body sent (wall clock, the
 * client in the same process). Also the read path alone (planner and assembler on this thread, no
 * HTTP) in MB/s per CPU second, which a loaded machine disturbs less.
 * @module
 */
import process from "node:process";
import { dtypeWidth } from "../../codec/dtype.ts";
import { fromFloat32 } from "../../codec/variants/float.ts";
import { parseSpecList } from "../../codec/variants/spec.ts";
import { deriveFile } from "../../src/pack/derive.ts";
import { readRegion } from "../../src/container/read.ts";
import { lossyEncodingOf } from "../../src/container/variant_index.ts";
import { packFile } from "../../src/pack/write.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { defaultConfig } from "../../src/server/config.ts";
import { startServer } from "../../src/server/server.ts";
import { gaussian } from "./sections.ts";
import { printTable, sig } from "./table.ts";

const VARIANTS = ["int8", "int8:g128", "ternary:3:greedy"];

/** A safetensors file of `count` BF16 `n × n` Gaussian matrices scaled as trained weights are. */
function matrices(n: number, count: number): Uint8Array {
  const width = dtypeWidth("BF16"), bytes = n * n * width;
  const header: Record<string, unknown> = {};
  for (let k = 0; k < count; k++) {
    header[`model.layers.${k}.mlp.weight`] = {
      dtype: "BF16",
      shape: [n, n],
      data_offsets: [k * bytes, (k + 1) * bytes],
    };
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + count * bytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  for (let k = 0; k < count; k++) {
    const v = gaussian(n * n, 100 + k).map((x) => x * 0.02);
    fromFloat32(
      v,
      "BF16",
      out.subarray(8 + head.length + k * bytes, 8 + head.length + (k + 1) * bytes),
    );
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Reads `url`'s body whole; returns its bytes and the milliseconds from request to last byte. */
async function timed(url: string): Promise<{ bytes: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  let bytes = 0;
  for await (const part of res.body!) bytes += part.length;
  return { bytes, ms: performance.now() - t0 };
}

/**
 * Serving speed of `count` `n × n` BF16 matrices, lossless and under each variant, `runs` times
 * each in turn, with a server of `workers` decode threads.
 */
export async function servingSpeed(
  work: string,
  options: { n: number; count: number; runs: number; tiles: number; workers: number },
) {
  const { n, count, runs, tiles, workers } = options;
  const src = `${work}/serving.safetensors`;
  await Deno.writeFile(src, matrices(n, count));
  const models = `${work}/serving-models`;
  const target = `${models}/bench/m/main`;
  await Deno.mkdir(target, { recursive: true });
  await packFile(src, `${work}/serving.tsr`, { mode: "fast" });
  const deriveStarted = performance.now();
  await deriveFile(`${work}/serving.tsr`, `${target}/model.tsr`, {
    specs: parseSpecList(VARIANTS.join(",")),
  });
  const deriveSeconds = (performance.now() - deriveStarted) / 1000;
  // The read path alone: planner and assembler on this thread, per CPU second.
  const c = await openContainerFile(`${target}/model.tsr`);
  const cpu = (f: () => Promise<unknown>) => async () => {
    const s = process.cpuUsage();
    await f();
    const d = process.cpuUsage(s);
    return (d.user + d.system) / 1000;
  };
  const inWhole = new Map<string, number[]>(), inTile = new Map<string, number[]>();
  let seed = 1;
  const nextRect = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const r0 = ((seed >>> 8) % (n / 256)) * 256;
    seed = (seed * 1103515245 + 12345) >>> 0;
    const c0 = ((seed >>> 8) % (n / 256)) * 256;
    return { r0, r1: r0 + 256, c0, c1: c0 + 256 };
  };
  for (let r = 0; r < runs; r++) {
    const rects = Array.from({ length: tiles }, nextRect);
    for (const name of ["lossless", ...VARIANTS]) {
      for (const t of c.index.tensors) {
        const variant = name === "lossless" ? null : lossyEncodingOf(t, name);
        const ms = await cpu(() => readRegion(c, t, undefined, { variant }))();
        (inWhole.get(name) ?? inWhole.set(name, []).get(name)!).push(
          (n * n * 2) / 1e6 / (ms / 1000),
        );
        const tms = await cpu(async () => {
          for (const rect of rects) await readRegion(c, t, rect, { variant });
        })();
        (inTile.get(name) ?? inTile.set(name, []).get(name)!).push(
          (tiles * 256 * 256 * 2) / 1e6 / (tms / 1000),
        );
      }
    }
  }
  c.source.close();
  const server = await startServer(
    defaultConfig({
      modelsDir: models,
      port: 0,
      host: "127.0.0.1",
      quiet: true,
      demo: false,
      workers,
    }),
    () => {},
  );
  const base = `${server.url}/v1/models/bench/m/tensors/`;
  const kinds = [
    { label: "lossless", query: "" },
    ...VARIANTS.map((v) => ({ label: v, query: `variant=${encodeURIComponent(v)}` })),
    { label: "int8 raw", query: "variant=int8&raw=1" },
  ];
  const whole = new Map<string, number[]>(kinds.map((k) => [k.label, []]));
  const tile = new Map<string, number[]>(kinds.map((k) => [k.label, []]));
  const bytesOf = new Map<string, number>();
  try {
    for (let r = 0; r < runs; r++) {
      for (let k = 0; k < count; k++) {
        const name = encodeURIComponent(`model.layers.${k}.mlp.weight`);
        // Whole tensors: each kind in turn.
        for (const kind of kinds) {
          const { bytes, ms } = await timed(`${base}${name}?${kind.query}`);
          bytesOf.set(kind.label, bytes);
          whole.get(kind.label)!.push(bytes / 1e6 / (ms / 1000));
        }
        // Tiles: the same random 256 x 256 tiles for every kind.
        const rects = Array.from({ length: tiles }, () => {
          const q = nextRect();
          return `rows=${q.r0}:${q.r1}&cols=${q.c0}:${q.c1}`;
        });
        for (const kind of kinds) {
          let bytes = 0, ms = 0;
          for (const rect of rects) {
            const q = kind.query ? `${kind.query}&${rect}` : rect;
            const one = await timed(`${base}${name}?${q}`);
            bytes += one.bytes, ms += one.ms;
          }
          tile.get(kind.label)!.push(bytes / 1e6 / (ms / 1000));
        }
      }
    }
  } finally {
    await server.close();
  }
  const rows = kinds.map((k) => ({
    representation: k.label,
    tensorBytes: bytesOf.get(k.label)!,
    wholeMBs: median(whole.get(k.label)!),
    tileMBs: median(tile.get(k.label)!),
    readWholeMBsPerCpuS: inWhole.has(k.label) ? median(inWhole.get(k.label)!) : null,
    readTileMBsPerCpuS: inTile.has(k.label) ? median(inTile.get(k.label)!) : null,
    wholeVsLossless: median(whole.get(k.label)!) / median(whole.get("lossless")!),
    tileVsLossless: median(tile.get(k.label)!) / median(tile.get("lossless")!),
  }));
  console.log(
    `\nServing ${count} x ${n}x${n} BF16 (derive ${deriveSeconds.toFixed(0)} s), ${workers} ` +
      `decode workers, ${runs} runs, ${tiles} 256x256 tiles per tensor per run, MB/s of body:`,
  );
  printTable(
    ["representation", "body", "HTTP whole", "x", "HTTP tile", "x", "read whole", "read tile"],
    rows.map((r) => [
      r.representation,
      String(r.tensorBytes),
      sig(r.wholeMBs),
      sig(r.wholeVsLossless),
      sig(r.tileMBs),
      sig(r.tileVsLossless),
      r.readWholeMBsPerCpuS === null ? "-" : sig(r.readWholeMBsPerCpuS),
      r.readTileMBsPerCpuS === null ? "-" : sig(r.readTileMBsPerCpuS),
    ]),
  );
  console.log("(HTTP: MB/s of body, wall clock; read: planner + assembler, MB/s per CPU second)");
  return { n, count, runs, tiles, workers, deriveSeconds, rows };
}
