/**
 * Serving variants over the /v1 routes: tensors, tiles and layers with `?variant=` (dequantised,
 * and `&raw=1` the variant's payloads), variant revisions (`main@int8`), the manifest's variants
 * and statistics, `/metrics`, and a variant-only model, against a real server.
 */
import assert from "node:assert/strict";
import { dtypeWidth } from "../../codec/dtype.ts";
import { matrixShape } from "../../codec/tiles.ts";
import { chunkEntry, decodeVariantChunk } from "../../codec/variants/chunk_decode.ts";
import { readRegion } from "../../src/container/read.ts";
import { lossyEncodingOf } from "../../src/container/variant_index.ts";
import { variantCommitId } from "../../src/server/variant_revisions.ts";
import { readSafetensorsHeader } from "../../src/safetensors/parse.ts";
import { bufferReader } from "../../src/io/random_access.ts";
import { concat, cutRect, openBytes } from "../helpers/container.ts";
import { EDGE_SPEC, installVariants, VAR_SPECS, variantContainers } from "../helpers/variants.ts";
import { get, sha256Hex, withServer } from "../server/harness.ts";
import { Rng } from "../codec/prng.ts";
import { loadPortableZstd } from "../../codec/zstd_decode.ts";

// The payloads are decoded here with the codec's portable Zstandard, loaded asynchronously.
await loadPortableZstd();

const NAMES = VAR_SPECS.split(",");
const api = (url: string, model = "var") => `${url}/v1/models/demo/${model}`;
const tensorUrl = (url: string, name: string, query: string) =>
  `${api(url)}/tensors/${encodeURIComponent(name)}?${query}`;
const json = (body: Uint8Array) => JSON.parse(new TextDecoder().decode(body));

Deno.test("variants: ?variant= tensors are the dequantised bytes, and every tile the same bytes of the whole", async () => {
  const { full } = await variantContainers();
  const c = await openBytes(full);
  await withServer(
    async ({ url }) => {
      const rng = new Rng(9);
      for (const name of NAMES) {
        for (const t of c.index.tensors) {
          const e = lossyEncodingOf(t, name);
          // The whole tensor, checked against the digest derive took of the encoder's own output.
          const whole = await get(tensorUrl(url, t.name, `variant=${encodeURIComponent(name)}`));
          assert.equal(whole.status, 200, `${name} ${t.name}`);
          const digest = e ? e.sha256 : t.sha256;
          assert.equal(await sha256Hex(whole.body), digest, `${name} ${t.name}`);
          assert.equal(whole.headers.get("ETag"), `"${digest}"`);
          assert.equal(whole.headers.get("X-Tessera-Variant"), name);
          assert.equal(whole.headers.get("X-Tessera-Variant-Kind"), e ? e.kind : "exact");
          if (!e) assert.deepEqual(whole.body, await readRegion(c, t));
          // Tiles by rows/cols, by slice, and byte ranges, against the same bytes of the whole.
          const [rows, cols] = matrixShape(t.shape), w = dtypeWidth(t.dtype);
          for (let k = 0; k < 4; k++) {
            const r0 = rng.int(rows), r1 = r0 + 1 + rng.int(rows - r0);
            const c0 = rng.int(cols), c1 = c0 + 1 + rng.int(cols - c0);
            const q = `variant=${encodeURIComponent(name)}&rows=${r0}:${r1}&cols=${c0}:${c1}`;
            const tile = await get(tensorUrl(url, t.name, q));
            assert.equal(tile.status, 200);
            assert.deepEqual(
              tile.body,
              cutRect(whole.body, cols, w, { r0, r1, c0, c1 }),
              `${name} ${t.name} ${q}`,
            );
            const a = rng.int(whole.body.length), b = a + rng.int(whole.body.length - a);
            const part = await get(tensorUrl(url, t.name, `variant=${encodeURIComponent(name)}`), {
              Range: `bytes=${a}-${b}`,
            });
            assert.equal(part.status, 206);
            assert.deepEqual(part.body, whole.body.subarray(a, b + 1));
          }
          if (t.shape.length === 2) {
            const q = `variant=${encodeURIComponent(name)}&slice=1:3,:5`;
            const tile = await get(tensorUrl(url, t.name, q));
            assert.deepEqual(
              tile.body,
              cutRect(whole.body, cols, w, { r0: 1, r1: 3, c0: 0, c1: 5 }),
            );
          }
          // The variant revision serves the same bytes without the query parameter.
          const viaRevision = await get(
            `${api(url)}/tensors/${encodeURIComponent(t.name)}?revision=main@${name}`,
          );
          assert.deepEqual(viaRevision.body, whole.body);
        }
      }
    },
    {},
    installVariants,
  );
  c.source.close();
});

Deno.test("variants: raw=1 is the variant's payloads, with its layout and chunks in headers", async () => {
  const { full } = await variantContainers();
  const c = await openBytes(full);
  await withServer(
    async ({ url }) => {
      for (const name of NAMES) {
        for (const t of c.index.tensors) {
          const e = lossyEncodingOf(t, name);
          if (!e) continue;
          const payloads = e.chunks.map(([offset, stored, raw], i) => {
            const parts = decodeVariantChunk(
              e,
              t.dtype,
              i,
              chunkEntry(e.chunks, i),
              full.subarray(offset, offset + stored),
            );
            return new Uint8Array(parts[0].buffer, parts[0].byteOffset, raw);
          });
          const r = await get(tensorUrl(url, t.name, `variant=${encodeURIComponent(name)}&raw=1`));
          assert.equal(r.status, 200);
          assert.deepEqual(r.body, concat(payloads), `${name} ${t.name}`);
          const layout = JSON.parse(r.headers.get("X-Tessera-Variant-Layout")!);
          assert.deepEqual(layout, { kind: e.kind, view: e.view, tile: e.tile, params: e.params });
          // The chunk runs name every chunk with its payload length.
          const lengths: number[] = [];
          for (const run of r.headers.get("X-Tessera-Variant-Chunks")!.split(",")) {
            const [ids, bytes] = run.split(":");
            const [from, to] = ids.split("-").map(Number);
            for (let i = from; i <= (to ?? from); i++) lengths[i] = Number(bytes);
          }
          assert.deepEqual(lengths, e.chunks.map((ch) => ch[2]));
          // A tile's raw bytes are the payloads of the chunks it needs, in chunk order.
          const tile = await get(
            tensorUrl(url, t.name, `variant=${encodeURIComponent(name)}&raw=1&rows=0:1`),
          );
          const ids = tile.headers.get("X-Tessera-Variant-Chunks")!.split(",").flatMap((run) => {
            const [from, to] = run.split(":")[0].split("-").map(Number);
            return Array.from({ length: (to ?? from) - from + 1 }, (_, k) => from + k);
          });
          assert.deepEqual(tile.body, concat(ids.map((i) => payloads[i])));
        }
      }
    },
    {},
    installVariants,
  );
  c.source.close();
});

Deno.test("variants: a layer under a variant is a safetensors file of the dequantised tensors; raw holds payloads and layouts", async () => {
  const { full } = await variantContainers();
  const c = await openBytes(full);
  await withServer(
    async ({ url }) => {
      const key = "model.layers.0";
      const layer = await get(`${api(url)}/layers/${key}?variant=int8:g64`);
      assert.equal(layer.status, 200);
      const h = await readSafetensorsHeader(bufferReader(layer.body));
      assert.equal(h.metadata?.["tessera.variant"], "int8:g64");
      for (const t of c.index.tensors.filter((x) => x.layer === key)) {
        const entry = h.tensors.find((x) => x.name === t.name)!;
        const bytes = layer.body.subarray(h.dataStart + entry.begin, h.dataStart + entry.end);
        const e = lossyEncodingOf(t, "int8:g64");
        assert.equal(await sha256Hex(bytes), e ? e.sha256 : t.sha256, t.name);
      }
      const raw = await get(`${api(url)}/layers/${key}?variant=int8:g64&raw=1`);
      const rh = await readSafetensorsHeader(bufferReader(raw.body));
      const layouts = JSON.parse(rh.metadata!["tessera.layouts"]);
      for (const t of c.index.tensors.filter((x) => x.layer === key)) {
        const entry = rh.tensors.find((x) => x.name === t.name)!;
        const e = lossyEncodingOf(t, "int8:g64");
        if (!e) {
          assert.equal(entry.dtype, t.dtype);
          continue;
        }
        assert.equal(entry.dtype, "U8");
        assert.equal(entry.end - entry.begin, e.chunks.reduce((n, ch) => n + ch[2], 0));
        assert.deepEqual(layouts[t.name].chunks, e.chunks.map((ch) => ch[2]));
        assert.equal(layouts[t.name].kind, "int8");
      }
    },
    {},
    installVariants,
  );
  c.source.close();
});

Deno.test("variants: the manifest lists each tensor's variants with size and error, and the variants' statistics", async () => {
  const { full } = await variantContainers();
  const c = await openBytes(full);
  await withServer(
    async ({ url }) => {
      const m = json((await get(`${api(url)}/manifest`)).body);
      assert.deepEqual(m.variants.map((v: { name: string }) => v.name), NAMES);
      const int8 = m.variants[0];
      assert.equal(int8.revision, "main@int8:g64");
      assert.match(int8.commit, /^[0-9a-f]{40}$/);
      assert.equal(int8.files[0].sha256, c.index.variants![0].sha256);
      assert.ok(int8.averageRatio > 1 && int8.savedBytes > 0 && int8.lossyTensors > 0);
      assert.equal(int8.kinds.int8 + int8.kinds.exact, c.index.tensors.length);
      for (const t of m.tensors) {
        const entry = c.tensors.get(t.name)!;
        assert.equal(t.sha256, entry.sha256);
        assert.deepEqual(t.variants.map((v: { name: string }) => v.name), NAMES);
        for (const v of t.variants) {
          const e = lossyEncodingOf(entry, v.name);
          assert.equal(v.kind, e ? e.kind : "exact");
          assert.equal(v.sha256, e ? e.sha256 : entry.sha256);
          if (e) {
            assert.equal(v.relRmse, e.error.relRmse);
            assert.equal(v.storedBytes, e.chunks.reduce((n, ch) => n + ch[1], 0));
          } else assert.equal(v.relRmse, 0);
        }
      }
      // A variant revision's manifest gives the digests of what it serves.
      const mv = json((await get(`${api(url)}/manifest?revision=main@ternary:2:greedy`)).body);
      assert.equal(mv.variant, "ternary:2:greedy");
      assert.equal(mv.commit, m.variants[1].commit);
      assert.equal(mv.sha256, c.index.variants![1].sha256);
      for (const t of mv.tensors) {
        const e = lossyEncodingOf(c.tensors.get(t.name)!, "ternary:2:greedy");
        assert.equal(t.sha256, e ? e.sha256 : c.tensors.get(t.name)!.sha256);
      }
      // /metrics carries the same statistics per model and variant.
      const metrics = new TextDecoder().decode((await get(`${url}/metrics`)).body);
      assert.match(
        metrics,
        new RegExp(
          `tessera_variant_average_ratio\\{model="demo/var",variant="int8:g64"\\} ${int8.averageRatio}`,
        ),
      );
      assert.match(
        metrics,
        new RegExp(
          `tessera_variant_tensors\\{model="demo/var",variant="int8:g64",kind="int8"\\} ${int8.kinds.int8}`,
        ),
      );
      assert.match(
        metrics,
        /tessera_variant_decode_ms_per_tensor\{model="demo\/edge",variant="int8"\}/,
      );
    },
    {},
    installVariants,
  );
  c.source.close();
});

Deno.test("variants: a variant-only model refuses its original before any byte and serves its variant", async () => {
  const { edge } = await variantContainers();
  const c = await openBytes(edge);
  await withServer(
    async ({ url }) => {
      const original = await get(`${url}/demo/edge/resolve/main/model.safetensors`);
      assert.equal(original.status, 409);
      assert.equal(json(original.body).error, "variant_only");
      const t = c.index.tensors.find((x) => lossyEncodingOf(x, EDGE_SPEC))!;
      const lossless = await get(`${api(url, "edge")}/tensors/${encodeURIComponent(t.name)}`);
      assert.equal(lossless.status, 409);
      const file = await get(`${url}/demo/edge/resolve/main@${EDGE_SPEC}/model.safetensors`);
      assert.equal(file.status, 200);
      assert.equal(await sha256Hex(file.body), c.index.variants![0].sha256);
      assert.equal(file.body.length, c.index.source.size);
      const tile = await get(
        `${api(url, "edge")}/tensors/${encodeURIComponent(t.name)}?variant=${EDGE_SPEC}&rows=0:2`,
      );
      assert.equal(tile.status, 200);
      const m = json((await get(`${api(url, "edge")}/manifest`)).body);
      assert.equal(m.variants[0].losslessBytes, null);
      assert.equal(m.tensors.find((x: { name: string }) => x.name === t.name).tile, undefined);
    },
    {},
    installVariants,
  );
  c.source.close();
});

Deno.test("variants: bad variant requests are clear errors", async () => {
  await withServer(
    async ({ url }) => {
      const t = encodeURIComponent("model.layers.0.attention.wq.weight");
      const cases: [string, number, string][] = [
        [`${api(url)}/tensors/${t}?variant=nope`, 404, "variant_not_found"],
        [`${api(url)}/tensors/${t}?raw=1`, 400, "bad_query"],
        [`${api(url)}/tensors/${t}?variant=Bad@`, 400, "bad_query"],
        [`${api(url)}/tensors/${t}?revision=main@int8:g64&variant=svd:ratio=4`, 400, "bad_query"],
        [`${api(url)}/tensors/${t}?revision=main@nope`, 404, "revision_not_found"],
        [`${api(url)}/layers/model.layers.0?variant=nope`, 404, "variant_not_found"],
        [`${url}/demo/var/resolve/main@nope/model.safetensors`, 404, "revision_not_found"],
      ];
      for (const [u, status, kind] of cases) {
        const r = await get(u);
        assert.equal(r.status, status, u);
        assert.equal(json(r.body).error, kind, u);
      }
    },
    {},
    installVariants,
  );
});

Deno.test("variants: a variant revision's id resolves on a server that has not seen it named", async () => {
  const { full } = await variantContainers();
  const c = await openBytes(full);
  await withServer(
    async ({ url }) => {
      const head = json((await get(`${url}/api/models/demo/var`)).body).sha;
      const v = c.index.variants![2];
      const id = variantCommitId(head, v.name);
      const file = await get(`${url}/demo/var/resolve/${id}/model.safetensors`);
      assert.equal(file.status, 200);
      assert.equal(file.headers.get("X-Repo-Commit"), id);
      assert.equal(file.headers.get("ETag"), `"${v.sha256}"`);
      assert.equal(file.headers.get("Cache-Control"), "public, max-age=31536000, immutable");
      assert.equal(await sha256Hex(file.body), v.sha256);
      const named = await get(
        `${url}/demo/var/resolve/main@${v.name}/model.safetensors`,
        {},
        "HEAD",
      );
      assert.equal(named.headers.get("X-Repo-Commit"), id);
      assert.equal(named.headers.get("Cache-Control"), "no-cache");
      const unknown = await get(`${url}/demo/var/resolve/${"0".repeat(40)}/model.safetensors`);
      assert.equal(unknown.status, 404);
    },
    {},
    installVariants,
  );
  c.source.close();
});
