/**
 * The compressed transport of a variant moves only that variant's bytes: `loadModel` and `pull`
 * of one variant of a variant-only container that holds two read no byte of the other variant's
 * region (from the request log), and no more than the variant's chunks, the exact tensors' chunks,
 * the header and the index. Both yield the variant's bytes, checked against its digests, as the
 * decoded transport does.
 * @module
 */
import assert from "node:assert/strict";
import { dtypeWidth } from "../../codec/dtype.ts";
import { fromFloat32 } from "../../codec/variants/float.ts";
import { parseSpecList } from "../../codec/variants/spec.ts";
import type { Fetch } from "../../src/client/http.ts";
import { loadModel } from "../../src/client/load_model.ts";
import { pullFile } from "../../src/cli/pull.ts";
import { deriveFile } from "../../src/pack/derive.ts";
import { losslessStored } from "../../src/container/variant_stats.ts";
import { lossyEncodingOf } from "../../src/container/variant_index.ts";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors, type FixtureTensor } from "../safetensors/fixture.ts";
import { packBytes, withTempDir } from "../helpers/container.ts";
import { startHub } from "./hub_server.ts";

const SPECS = "int8,ternary:2:greedy";

/** Twelve 512 x 512 BF16 matrices (6 MiB) and their norms, as a small model has. */
function model(): Uint8Array {
  const rng = new Rng(11);
  const tensors: FixtureTensor[] = [];
  for (let l = 0; l < 6; l++) {
    for (const part of ["attn.weight", "mlp.weight"]) {
      const n = 512 * 512, v = new Float32Array(n);
      for (let i = 0; i < n; i++) v[i] = rng.normal() * 0.02;
      const data = new Uint8Array(n * dtypeWidth("BF16"));
      fromFloat32(v, "BF16", data);
      tensors.push({ name: `model.layers.${l}.${part}`, dtype: "BF16", shape: [512, 512], data });
    }
    const norm = new Float32Array(512).fill(1), data = new Uint8Array(2048);
    fromFloat32(norm, "F32", data);
    tensors.push({ name: `model.layers.${l}.norm.weight`, dtype: "F32", shape: [512], data });
  }
  return buildSafetensors(tensors, { note: "variant transport" });
}

interface Logged {
  /** Container bytes moved by range responses, as [first, last + 1). */
  readonly ranges: [number, number][];
  /** Body bytes of other responses (manifest, whole files). */
  other: number;
}

/** A fetch that records every container range it receives. */
function logged(log: Logged): Fetch {
  return async (input, init) => {
    const res = await fetch(new Request(input, init));
    const m = /^bytes (\d+)-(\d+)\//.exec(res.headers.get("content-range") ?? "");
    if (m && new URL(res.url).pathname.endsWith("/container")) {
      log.ranges.push([Number(m[1]), Number(m[2]) + 1]);
    } else {
      const bytes = new Uint8Array(await res.clone().arrayBuffer());
      log.other += bytes.length;
    }
    return res;
  };
}

const overlap = (ranges: [number, number][], a: number, b: number) =>
  ranges.reduce((n, [s, e]) => n + Math.max(0, Math.min(e, b) - Math.max(s, a)), 0);

Deno.test("compressed transport of a variant of a variant-only container moves only its bytes", () =>
  withTempDir(async (dir) => {
    const src = model();
    const { path } = await packBytes(src, dir, { mode: "fast" }, "in.tsr");
    const root = `${dir}/models/demo/edge/main`;
    await Deno.mkdir(root, { recursive: true });
    await deriveFile(path, `${root}/model.tsr`, {
      specs: parseSpecList(SPECS),
      variantOnly: true,
    });
    const c = await openContainerFile(`${root}/model.tsr`);
    c.source.close();
    const { index } = c, size = c.source.size;
    // Each variant's region, the exact tensors' chunks, and what the rest of the file holds.
    const region = (name: string) => {
      let a = Infinity, b = 0, bytes = 0;
      for (const t of index.tensors) {
        for (const [offset, stored] of lossyEncodingOf(t, name)?.chunks ?? []) {
          a = Math.min(a, offset), b = Math.max(b, offset + stored), bytes += stored;
        }
      }
      return { a, b, bytes };
    };
    const int8 = region("int8"), ternary = region("ternary:2:greedy");
    const exact = index.tensors.reduce((n, t) => n + (losslessStored(t) ?? 0), 0);
    const header = index.source.header.offset + index.source.header.storedLength;
    const indexBytes = size - c.head.indexOffset;
    assert.ok(ternary.b - ternary.a > 256 << 10, "the other variant's region is wider than a gap");
    const hub = await startHub(`${dir}/models`);
    try {
      const url = `${hub.base}/v1/models/demo/edge`;
      // The open fetches the head and original header, and the index, only.
      const http = { prefixBytes: header, tailBytes: indexBytes };
      const figures: Record<string, number> = {};
      for (
        const [what, run] of [
          ["loadModel", async (fetchFn: Fetch) => {
            const digests: string[] = [];
            for await (
              const t of loadModel(url, {
                variant: "int8",
                transport: "compressed",
                fetch: fetchFn,
                http,
              })
            ) {
              const e = lossyEncodingOf(index.tensors.find((x) => x.name === t.name)!, "int8");
              assert.equal(
                sha256Hex(t.bytes),
                e ? e.sha256 : index.tensors.find((x) => x.name === t.name)!.sha256,
              );
              digests.push(t.name);
            }
            assert.equal(digests.length, index.tensors.length);
          }],
          ["pull", async (fetchFn: Fetch) => {
            const out = `${dir}/int8.safetensors`;
            const r = await pullFile({
              url,
              out,
              variant: "int8",
              transport: "compressed",
              fetch: fetchFn,
              http,
              workers: 0,
            });
            assert.equal(r.sha256, index.variants!.find((v) => v.name === "int8")!.sha256);
            assert.equal(sha256Hex(await Deno.readFile(out)), r.sha256);
          }],
        ] as const
      ) {
        const log: Logged = { ranges: [], other: 0 };
        await run(logged(log));
        const moved = log.ranges.reduce((n, [a, b]) => n + b - a, 0);
        assert.equal(
          overlap(log.ranges, ternary.a, ternary.b),
          0,
          `${what} read the other variant`,
        );
        assert.ok(overlap(log.ranges, int8.a, int8.b) >= int8.bytes, `${what} read all of int8`);
        // Alignment padding is the only slack: at most 63 bytes per chunk.
        const chunks = index.tensors.reduce(
          (n, t) => n + (lossyEncodingOf(t, "int8")?.chunks.length ?? 1),
          0,
        );
        assert.ok(
          moved <= int8.bytes + exact + header + indexBytes + 64 * chunks,
          `${what} moved ${moved} bytes`,
        );
        assert.equal(log.other, 0, `${what} needed nothing but the container`);
        figures[what] = moved;
      }
      console.log(
        `variant-only container ${size} bytes (original ${index.source.size}): int8 region ` +
          `${int8.bytes}, ternary:2:greedy region ${ternary.bytes}, exact ${exact}; moved by ` +
          `loadModel ${figures.loadModel}, by pull ${figures.pull}`,
      );
      // The decoded transport yields the same bytes.
      for await (const t of loadModel(url, { variant: "int8", transport: "decoded" })) {
        const entry = index.tensors.find((x) => x.name === t.name)!;
        assert.equal(sha256Hex(t.bytes), lossyEncodingOf(entry, "int8")?.sha256 ?? entry.sha256);
      }
    } finally {
      await hub.close();
    }
  }));
