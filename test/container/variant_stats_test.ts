/**
 * The manager's statistics of a variant, on the known-answer containers, against sums taken here
 * from their indexes.
 */
import assert from "node:assert/strict";
import { variantNames, variantStats } from "../../src/container/variant_stats.ts";
import { openContainerFile } from "../../src/io/container_file.ts";

const DIR = new URL("../fixtures/kat/", import.meta.url).pathname;

Deno.test("variantStats: counts by kind, bytes, average ratio and memory saved", async () => {
  const c = await openContainerFile(`${DIR}variants.tsr`);
  const edge = await openContainerFile(`${DIR}variants.edge.tsr`);
  try {
    assert.deepEqual(variantNames([c.index, edge.index]).slice(0, 2), ["int8", "int8:asym:g8:f32"]);
    const s = variantStats([c.index], "int8");
    // Three matrices are int8; the norm and the I8 vector stay exact.
    assert.deepEqual(s.kinds, { int8: 3, exact: 2 });
    assert.equal(s.tensors, 5);
    assert.equal(s.lossyTensors, 3);
    let stored = 0, raw = 0, ratios = 0, lossless = 0;
    for (const t of c.index.tensors) {
      const bytes = (e: { chunks: number[][] }) => e.chunks.reduce((n, ch) => n + ch[1], 0);
      const l = t.encodings.find((e) => e.kind === "lossless") as { chunks: number[][] };
      const v = t.encodings.find((e) =>
        (e as { name?: string }).name === "int8" && e.kind === "int8"
      );
      const size = t.offsets[1] - t.offsets[0];
      raw += size, lossless += bytes(l);
      if (v) {
        stored += bytes(v as unknown as { chunks: number[][] });
        ratios += size / bytes(v as unknown as { chunks: number[][] });
      } else stored += bytes(l);
    }
    assert.equal(s.rawBytes, raw);
    assert.equal(s.storedBytes, stored);
    assert.equal(s.losslessBytes, lossless);
    assert.equal(s.savedBytes, raw - stored);
    assert.ok(Math.abs(s.averageRatio - ratios / 3) < 1e-12);
    // Known-answer containers record no times.
    assert.equal(s.deriveMs, 0);
    assert.equal(s.decodeMsPerTensor, 0);
    // auto:rmse=0.05 keeps everything exact.
    const auto = variantStats([c.index], "auto:rmse=0.05");
    assert.deepEqual(auto.kinds, { exact: 5 });
    assert.equal(auto.averageRatio, 1);
    // A variant-only container has no lossless size to compare with; a file without the
    // variant counts as exact.
    const two = variantStats([c.index, edge.index], "int8");
    assert.equal(two.losslessBytes, null);
    assert.equal(two.tensors, 10);
    assert.equal(two.kinds.exact, 7);
  } finally {
    c.source.close();
    edge.source.close();
  }
});
