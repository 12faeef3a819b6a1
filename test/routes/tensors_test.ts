import assert from "node:assert/strict";
import { dtypeWidth } from "../../codec/dtype.ts";
import type { Dtype } from "../../codec/dtype.ts";
import { parseHeader } from "../../src/safetensors/parse.ts";
import {
  gather,
  get,
  installSynthetic,
  sha256Hex,
  SYNTHETIC_TENSORS,
  tensorSpan,
  withServer,
} from "../server/harness.ts";

let original: Uint8Array;
const setup = async (dir: string) => {
  original = await installSynthetic(dir);
};
const base = (url: string) => `${url}/v1/models/test/tiny`;

Deno.test("tensors: every tensor, decoded, with dtype/shape headers and its sha-256 as ETag", async () => {
  await withServer(
    async ({ url }) => {
      const manifest = await (await fetch(`${base(url)}/manifest`)).json();
      for (const spec of SYNTHETIC_TENSORS) {
        const span = tensorSpan(original, spec.name);
        const want = original.subarray(span.begin, span.end);
        const r = await get(`${base(url)}/tensors/${encodeURIComponent(spec.name)}`);
        assert.equal(r.status, 200, spec.name);
        assert.deepEqual(r.body, want, spec.name);
        const m = manifest.tensors.find((t: { name: string }) => t.name === spec.name);
        assert.equal(r.headers.get("ETag"), `"${m.sha256}"`);
        assert.equal(m.sha256, await sha256Hex(want));
        assert.equal(r.headers.get("X-Tessera-Dtype"), spec.dtype);
        assert.equal(r.headers.get("X-Tessera-Shape"), spec.shape.join(","));
        assert.equal(r.headers.get("Content-Length"), String(want.length));
        assert.match(r.headers.get("Repr-Digest")!, /^sha-256=:[A-Za-z0-9+/]+=*:$/);
        // Again, now from the bytes kept whole.
        const again = await get(`${base(url)}/tensors/${encodeURIComponent(spec.name)}`);
        assert.deepEqual(again.body, want, `${spec.name} again`);
        assert.equal(again.headers.get("X-Tessera-Shape"), spec.shape.join(","));
        assert.equal(again.headers.get("Content-Length"), String(want.length));
      }
    },
    {},
    setup,
  );
});

Deno.test("tensors: names with / : % and unicode work encoded and with raw slashes", async () => {
  await withServer(
    async ({ url }) => {
      for (const name of ["w/a:b", "émb/ü ✓", "p%2Fq"]) {
        const span = tensorSpan(original, name);
        const want = original.subarray(span.begin, span.end);
        const encoded = await get(`${base(url)}/tensors/${encodeURIComponent(name)}`);
        assert.deepEqual(encoded.body, want, name);
        const slashes = name.split("/").map(encodeURIComponent).join("/");
        const raw = await get(`${base(url)}/tensors/${slashes}`);
        assert.deepEqual(raw.body, want, `${name} with raw slashes`);
      }
      const missing = await get(`${base(url)}/tensors/${encodeURIComponent("nope/x")}`);
      assert.equal(missing.status, 404);
      assert.equal(JSON.parse(new TextDecoder().decode(missing.body)).error, "tensor_not_found");
      const bad = await get(`${base(url)}/tensors/%E0%A4%A`);
      assert.equal(bad.status, 400);
    },
    {},
    setup,
  );
});

Deno.test("tensors: Range over a multi-tile tensor maps onto the tile rows that hold it", async () => {
  await withServer(
    async ({ url }) => {
      const span = tensorSpan(original, "w/a:b");
      const data = original.subarray(span.begin, span.end);
      const u = `${base(url)}/tensors/${encodeURIComponent("w/a:b")}`;
      for (
        const [a, b] of [[0, 0], [1, 1], [1199, 1201], [5000, 9999], [47000, 47999], [0, 47999]]
      ) {
        const r = await get(u, { Range: `bytes=${a}-${b}` });
        assert.equal(r.status, 206);
        assert.equal(r.headers.get("Content-Range"), `bytes ${a}-${b}/${data.length}`);
        assert.deepEqual(r.body, data.subarray(a, b + 1), `${a}-${b}`);
      }
    },
    {},
    setup,
  );
});

Deno.test("tiles: rows/cols over the matrix view and N-D slices, row-major", async () => {
  await withServer(
    async ({ url }) => {
      const cases: [string, string, [number, number][]][] = [
        ["w/a:b", "rows=3:37&cols=29:101", [[3, 37], [29, 101]]],
        ["w/a:b", "rows=-5:&cols=:", [[35, 40], [0, 300]]],
        ["w/a:b", "rows=7&cols=299", [[7, 8], [299, 300]]],
        ["w/a:b", "slice=0:40,0:300", [[0, 40], [0, 300]]],
        ["émb/ü ✓", "slice=1:3,2:5,0:7,3:8", [[1, 3], [2, 5], [0, 7], [3, 8]]],
        ["émb/ü ✓", "slice=:,1,::,:".replace("::", ":"), [[0, 3], [1, 2], [0, 7], [0, 9]]],
        ["émb/ü ✓", "slice=2", [[2, 3], [0, 5], [0, 7], [0, 9]]],
        ["émb/ü ✓", "rows=10:50&cols=4:6", [[10, 50], [4, 6]]],
        ["model.layers.0.y.bias", "slice=-10:", [[55, 65]]],
        ["scalar", "slice=", []],
      ];
      for (const [name, query, ranges] of cases) {
        const span = tensorSpan(original, name);
        const data = original.subarray(span.begin, span.end);
        const width = dtypeWidth(span.dtype as Dtype);
        const matrix = query.startsWith("rows");
        const shape = matrix
          ? [span.shape.slice(0, -1).reduce((a, b) => a * b, 1), span.shape[span.shape.length - 1]]
          : span.shape;
        const want = gather(data, shape, width, ranges);
        const r = await get(`${base(url)}/tensors/${encodeURIComponent(name)}?${query}`);
        assert.equal(r.status, 200, `${name}?${query}`);
        assert.deepEqual(r.body, want, `${name}?${query}`);
        assert.equal(r.headers.get("X-Tessera-Shape"), ranges.map(([s, e]) => e - s).join(","));
        assert.match(r.headers.get("ETag")!, /^"[0-9a-f]{64}"$/);
        // Again, now from the bytes kept whole: the same body and headers.
        const again = await get(`${base(url)}/tensors/${encodeURIComponent(name)}?${query}`);
        assert.deepEqual(again.body, want, `${name}?${query} again`);
        for (const h of ["ETag", "X-Tessera-Shape", "X-Tessera-Selection", "Content-Length"]) {
          assert.equal(again.headers.get(h), r.headers.get(h), h);
        }
        // A range of a tile is a range of those bytes.
        if (want.length > 10) {
          const part = await get(`${base(url)}/tensors/${encodeURIComponent(name)}?${query}`, {
            Range: "bytes=3-9",
          });
          assert.equal(part.status, 206);
          assert.deepEqual(part.body, want.subarray(3, 10));
        }
      }
    },
    {},
    setup,
  );
});

Deno.test("tiles: tensors of the same bytes in other shapes get other tile bodies and ETags", async () => {
  // The tile's entity tag once hashed the tensor's digest and the selection only, so a tensor of
  // the same bytes in another shape (another revision at the same URL, say) matched it.
  const data = new Uint8Array(64).map((_, i) => i);
  await withServer(
    async ({ url }) => {
      const tile = (name: string) =>
        get(`${url}/v1/models/test/twins/tensors/${name}?rows=0:2&cols=0:2`);
      const [wide, tall] = [await tile("wide"), await tile("tall")];
      assert.equal(wide.status, 200);
      assert.deepEqual(wide.body, new Uint8Array([0, 1, 2, 3, 16, 17, 18, 19]));
      assert.deepEqual(tall.body, new Uint8Array([0, 1, 2, 3, 8, 9, 10, 11]));
      assert.notEqual(wide.headers.get("ETag"), tall.headers.get("ETag"));
    },
    {},
    async (dir) => {
      const { buildSafetensors } = await import("../safetensors/fixture.ts");
      const { packFile } = await import("../../src/pack/write.ts");
      const rev = `${dir}/test/twins/main`;
      await Deno.mkdir(rev, { recursive: true });
      await Deno.writeFile(
        `${dir}/twins.safetensors`,
        buildSafetensors([
          { name: "wide", dtype: "BF16", shape: [4, 8], data },
          { name: "tall", dtype: "BF16", shape: [8, 4], data },
        ]),
      );
      await packFile(`${dir}/twins.safetensors`, `${rev}/model.tsr`, { mode: "fast" });
      await Deno.remove(`${dir}/twins.safetensors`);
    },
  );
});

Deno.test("tiles: malformed or out-of-range selections are 400 bad_slice", async () => {
  await withServer(
    async ({ url }) => {
      const u = `${base(url)}/tensors/${encodeURIComponent("w/a:b")}`;
      for (
        const q of [
          "rows=0:41",
          "cols=x",
          "rows=5:2",
          "slice=0:1,0:1,0:1",
          "rows=0:1&slice=0:1",
          "rows=0-5",
          "rows=1%202",
          "rows=1+2",
          "rows=1&rows=2",
        ]
      ) {
        const r = await get(`${u}?${q}`);
        assert.equal(r.status, 400, q);
        const body = JSON.parse(new TextDecoder().decode(r.body));
        assert.equal(body.error, "bad_slice", q);
        if (!q.includes(":")) assert.match(body.message, /\[-\]digits/, q);
      }
      const etagA = (await get(`${u}?rows=0:2`)).headers.get("ETag");
      const etagB = (await get(`${u}?rows=0:3`)).headers.get("ETag");
      assert.notEqual(etagA, etagB);
    },
    {},
    setup,
  );
});

Deno.test("layers: a valid safetensors file of the layer's tensors, header first", async () => {
  await withServer(
    async ({ url }) => {
      const manifest = await (await fetch(`${base(url)}/manifest`)).json();
      assert.deepEqual(manifest.layers.map((l: { key: string }) => l.key).slice(0, 3), [
        "model.embed_tokens",
        "model.layers.0",
        "model.layers.1",
      ]);
      for (const layer of manifest.layers) {
        const r = await get(`${base(url)}/layers/${encodeURIComponent(layer.key)}`);
        assert.equal(r.status, 200, layer.key);
        assert.equal(Number(r.headers.get("Content-Length")), r.body.length);
        const n = Number(new DataView(r.body.buffer).getBigUint64(0, true));
        assert.equal((8 + n) % 8, 0, "data section aligned to 8");
        const header = parseHeader(r.body.subarray(8, 8 + n), r.body.length);
        assert.deepEqual(header.tensors.map((t) => t.name), layer.tensors);
        assert.deepEqual(header.metadata, { format: "pt" });
        for (const t of header.tensors) {
          const span = tensorSpan(original, t.name);
          assert.deepEqual(
            r.body.subarray(8 + n + t.begin, 8 + n + t.end),
            original.subarray(span.begin, span.end),
            t.name,
          );
        }
      }
      assert.equal((await get(`${base(url)}/layers/nope`)).status, 404);
    },
    {},
    setup,
  );
});
