import assert from "node:assert/strict";
import fc from "fast-check";
import {
  packRows,
  PAGE_ROWS,
  parseTableQuery,
  SORT_KEYS,
  tablePage,
  type TensorRow,
  unpackRows,
  writeTableQuery,
} from "../../src/web/shared/tensor_table.ts";

const row = (i: number, over: Partial<TensorRow> = {}): TensorRow => ({
  name: `model.layers.${i % 7}.w${i}`,
  file: "model.safetensors",
  dtype: i % 3 === 0 ? "F32" : "BF16",
  shape: [i + 1, 4],
  layer: `model.layers.${i % 7}`,
  layerIndex: i % 7,
  raw: (i + 1) * 8,
  stored: (i + 1) * 5 + (i % 4),
  codecs: i % 2 ? "rans+raw" : "huffman+raw",
  sha256: i.toString(16).padStart(64, "0"),
  ...over,
});

Deno.test("tensor table: query round-trips through the URL, defaults omitted", () => {
  const q = { q: "attn q", sort: "stored" as const, dir: "desc" as const, page: 3 };
  const params = writeTableQuery(new URLSearchParams("revision=dev"), q);
  assert.equal(params.toString(), "revision=dev&tq=attn+q&sort=stored&dir=desc&page=3");
  assert.deepEqual(parseTableQuery(params), q);
  assert.equal(
    writeTableQuery(new URLSearchParams(), parseTableQuery(new URLSearchParams())).toString(),
    "",
  );
  // Malformed values fall back to the defaults.
  assert.deepEqual(parseTableQuery(new URLSearchParams("sort=evil&dir=up&page=-2")), {
    q: "",
    sort: "load",
    dir: "asc",
    page: 1,
  });
});

Deno.test("tensor table: filter, stable sort and pages cover every matching row once", () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 180 }),
    fc.constantFrom(...SORT_KEYS),
    fc.constantFrom("asc", "desc"),
    fc.constantFrom("", "bf16", "layers.3", "rans", "w1 f32", "nothing-matches"),
    (n, sort, dir, q) => {
      const rows = Array.from({ length: n }, (_, i) => row(i));
      const first = tablePage(rows, { q, sort, dir: dir as "asc" | "desc", page: 1 });
      const seen: TensorRow[] = [];
      for (let p = 1; p <= first.pages; p++) {
        const page = tablePage(rows, { q, sort, dir: dir as "asc" | "desc", page: p });
        assert.ok(page.rows.length <= PAGE_ROWS);
        seen.push(...page.rows);
      }
      assert.equal(seen.length, first.matching);
      assert.equal(new Set(seen).size, seen.length);
      const terms = q.split(/\s+/).filter(Boolean);
      for (const r of rows) {
        const hay = `${r.name}\n${r.dtype}\n${r.layer}\n${r.file}\n${r.codecs}`.toLowerCase();
        assert.equal(seen.includes(r), terms.every((t) => hay.includes(t)));
      }
      if (sort === "raw") {
        for (let i = 1; i < seen.length; i++) {
          assert.ok(
            dir === "asc" ? seen[i - 1].raw <= seen[i].raw : seen[i - 1].raw >= seen[i].raw,
          );
        }
      }
    },
  ));
});

Deno.test("tensor table: a page past the end shows the last page", () => {
  const rows = Array.from({ length: 120 }, (_, i) => row(i));
  const p = tablePage(rows, { q: "", sort: "load", dir: "asc", page: 99 });
  assert.equal(p.pages, 3);
  assert.equal(p.page, 3);
  assert.equal(p.rows.length, 20);
  assert.equal(p.first, 100);
});

Deno.test("tensor table: packed rows unpack to the rows, SHA-256 cut to its shown digits", () => {
  const rows = [row(0), row(1, { file: "text_encoder/model.safetensors" }), row(2)];
  const layers = Array.from({ length: 7 }, (_, i) => `model.layers.${i}`);
  const back = unpackRows(JSON.parse(JSON.stringify(packRows(rows, layers))));
  assert.deepEqual(back, rows.map((r) => ({ ...r, sha256: r.sha256.slice(0, 12) })));
});

Deno.test("tensor table: packing names each dtype, codec list and layer prefix once", () => {
  const layers = Array.from({ length: 7 }, (_, i) => `model.layers.${i}`);
  // A name that is its layer key, one outside its layer's prefix, one that only looks prefixed.
  const rows = [
    row(0),
    row(1, { name: "model.layers.1" }),
    row(2, { name: "lm_head.weight" }),
    row(3, { name: "model.layers.30.w" }),
    row(4, { name: "model.layers.4." }),
  ];
  const packed = packRows(rows, layers);
  assert.deepEqual(packed.dtypes, ["F32", "BF16"]);
  assert.deepEqual(packed.codecs, ["huffman+raw", "rans+raw"]);
  assert.deepEqual(packed.rows.map((r) => [r[0], r[4]]), [
    ["w0", -1],
    ["model.layers.1", 1],
    ["lm_head.weight", 2],
    ["model.layers.30.w", 3],
    ["model.layers.4.", 4],
  ]);
  assert.deepEqual(
    unpackRows(JSON.parse(JSON.stringify(packed))),
    rows.map((r) => ({ ...r, sha256: r.sha256.slice(0, 12) })),
  );
});

Deno.test("tensor table: any rows survive packing and JSON", () => {
  fc.assert(fc.property(
    fc.array(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 4 }),
    fc.array(
      fc.record({
        name: fc.string({ maxLength: 12 }),
        prefixed: fc.boolean(),
        file: fc.constantFrom("model.safetensors", "a/b.safetensors"),
        dtype: fc.constantFrom("BF16", "F32", "I8"),
        layer: fc.nat(),
        codecs: fc.constantFrom("raw", "rans+raw", "const+const"),
      }),
      { maxLength: 30 },
    ),
    (layers, specs) => {
      const rows = specs.map((s, i): TensorRow => {
        const layerIndex = s.layer % layers.length;
        return {
          ...row(i),
          name: s.prefixed ? `${layers[layerIndex]}.${s.name}` : s.name,
          file: s.file,
          dtype: s.dtype,
          layer: layers[layerIndex],
          layerIndex,
          codecs: s.codecs,
        };
      });
      assert.deepEqual(
        unpackRows(JSON.parse(JSON.stringify(packRows(rows, layers)))),
        rows.map((r) => ({ ...r, sha256: r.sha256.slice(0, 12) })),
      );
    },
  ));
});
