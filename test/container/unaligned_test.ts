/**
 * Version 3 `best` containers pack with alignment 1, so chunks start at odd offsets: every reader
 * (unpack, the server's tensor and tile routes, the HTTP client's spans, the native, WebAssembly
 * and TypeScript decoders) must read them from any byte, never through a misaligned typed view.
 */
import assert from "node:assert/strict";
import { dtypeWidth } from "../../codec/dtype.ts";
import type { Dtype } from "../../codec/dtype.ts";
import { loadModel } from "../../src/client/load_model.ts";
import { pullFile } from "../../src/cli/pull.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { wasmBackends } from "../../src/codec_wasm/backends.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { portableBackends } from "../../src/container/portable_backends.ts";
import { readRegion } from "../../src/container/read.ts";
import { unpackFile } from "../../src/io/unpack_file.ts";
import { packFile } from "../../src/pack/write.ts";
import { gather, get, tensorSpan, withServer } from "../server/harness.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { openBytes, readOriginal } from "../helpers/container.ts";

const QUANT = new URL("../fixtures/kat/kat.quant.safetensors", import.meta.url).pathname;
const WASM = new URL("../../native/wasm/tsr_kernel.wasm", import.meta.url);

// Odd element counts of every width, so that data and chunks fall at odd offsets.
const FLOATS = buildSafetensors([
  { name: "model.embed_tokens.weight", dtype: "BF16", shape: [37, 71] },
  { name: "model.layers.0.a.weight", dtype: "F32", shape: [29, 301] },
  { name: "model.layers.0.b.bias", dtype: "F16", shape: [65] },
  { name: "model.layers.0.c.weight", dtype: "I8", shape: [7, 131] },
  { name: "model.layers.1.d.weight", dtype: "F64", shape: [3, 17] },
  { name: "model.layers.1.e.weight", dtype: "BF16", shape: [129, 33] },
], { format: "pt" });

const MODELS: Record<string, Uint8Array> = {
  "test/floats": FLOATS,
  "test/quant": await Deno.readFile(QUANT),
};

// The packed containers, kept here: the server moves its models folder into its store.
const PACKED: Record<string, Uint8Array> = {};

async function setup(dir: string): Promise<void> {
  for (const [id, bytes] of Object.entries(MODELS)) {
    const rev = `${dir}/${id}/main`;
    await Deno.mkdir(rev, { recursive: true });
    await Deno.writeFile(`${dir}/src.safetensors`, bytes);
    // Small chunks: many tiles per tensor, each at whatever byte the previous one ended on.
    await packFile(`${dir}/src.safetensors`, `${rev}/model.tsr`, { mode: "best", chunkBytes: 512 });
    PACKED[id] = await Deno.readFile(`${rev}/model.tsr`);
  }
  await Deno.remove(`${dir}/src.safetensors`);
}

Deno.test("alignment 1: best containers round-trip through unpack, tensor and tile routes, and the client", async () => {
  await withServer(
    async ({ url, dir }) => {
      const backends = [
        ["native", nativeBackends()],
        ["wasm", await wasmBackends(await Deno.readFile(WASM))],
        ["typescript", portableBackends],
      ] as const;
      for (const [id, original] of Object.entries(MODELS)) {
        const bytes = PACKED[id];
        const c = await openBytes(bytes);
        const { index } = c;
        assert.equal(index.alignment, 1, `${id}: best packs without padding`);
        const offsets = index.tensors.flatMap((t) => losslessOf(t).chunks.map(([o]) => o));
        assert.ok(offsets.some((o) => o % 2 === 1), `${id}: some chunk starts at an odd offset`);
        // Unpack, with worker threads and without.
        for (const workers of [0, 2]) {
          const out = `${dir}/${id.replace("/", "_")}.${workers}.safetensors`;
          await unpackFile(c, out, { workers });
          assert.deepEqual(await Deno.readFile(out), original, `${id}: unpack, ${workers} workers`);
        }
        // Every decoder, every tensor's region.
        for (const [name, b] of backends) {
          const m = await openBytes(bytes, b);
          assert.deepEqual(await readOriginal(m), original, `${id}: ${name}`);
          for (const t of m.index.tensors) await readRegion(m, t);
        }
        // The server: each tensor whole, and a tile of each matrix.
        const base = `${url}/v1/models/${id}`;
        for (const t of index.tensors) {
          const span = tensorSpan(original, t.name);
          const data = original.subarray(span.begin, span.end);
          const r = await get(`${base}/tensors/${encodeURIComponent(t.name)}`);
          assert.equal(r.status, 200, `${id} ${t.name}`);
          assert.deepEqual(r.body, data, `${id} ${t.name}`);
          if (span.shape.length !== 2 || span.shape[0] < 3 || span.shape[1] < 3) continue;
          const [rows, cols] = span.shape;
          const ranges: [number, number][] = [[1, rows - 1], [1, cols - 2]];
          const want = gather(data, span.shape, dtypeWidth(span.dtype as Dtype), ranges);
          const q = `rows=1:${rows - 1}&cols=1:${cols - 2}`;
          const tile = await get(`${base}/tensors/${encodeURIComponent(t.name)}?${q}`);
          assert.equal(tile.status, 200, `${id} ${t.name}?${q}`);
          assert.deepEqual(tile.body, want, `${id} ${t.name}?${q}`);
        }
        // The client: both transports, and pull through the compressed one (HTTP spans of the
        // container at odd offsets).
        for (const transport of ["decoded", "compressed"] as const) {
          const seen = new Set<string>();
          for await (const t of loadModel(base, { transport })) {
            const span = tensorSpan(original, t.name);
            assert.deepEqual(
              t.bytes,
              original.subarray(span.begin, span.end),
              `${transport} ${t.name}`,
            );
            seen.add(t.name);
          }
          assert.equal(seen.size, index.tensors.length, `${id}: ${transport} loads every tensor`);
          const out = `${dir}/${id.replace("/", "_")}.${transport}.pulled.safetensors`;
          await pullFile({ url: `${url}/${id}`, out, transport });
          assert.deepEqual(await Deno.readFile(out), original, `${id}: pull ${transport}`);
        }
      }
    },
    {},
    setup,
  );
});
