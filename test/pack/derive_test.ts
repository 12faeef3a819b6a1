/**
 * `derive`: variants added to a real container, read back tile by tile, variant-only containers,
 * a second derive on top of a first, and index rules for variant encodings.
 * @module
 */
import assert from "node:assert/strict";
import { deriveFile } from "../../src/pack/derive.ts";
import { readRegion, tensorOf } from "../../src/container/read.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { readVariantRegion, variantOf } from "../../src/container/variant_read.ts";
import { packFile } from "../../src/pack/write.ts";
import { verifyContainer } from "../../src/container/verify.ts";
import { encodeVariant } from "../../codec/variants/encode.ts";
import { parseSpec, parseSpecList } from "../../codec/variants/spec.ts";
import { matrixShape } from "../../codec/tiles.ts";
import { dtypeWidth } from "../../codec/dtype.ts";
import {
  cutRect,
  editIndex,
  expectContainerError,
  openBytes,
  readOriginal,
  withTempDir,
} from "../helpers/container.ts";
import { Rng } from "../codec/prng.ts";

const FIXTURE = new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url).pathname;
const SPECS = "int8,int8:asym:g16,fp16,ternary:3,ternary:2:base3,svd:energy=0.9,sparse:keep=0.3";

async function derived(dir: string, specs: string, variantOnly = false, only?: RegExp) {
  await packFile(FIXTURE, `${dir}/in.tsr`, { mode: "fast" });
  await deriveFile(`${dir}/in.tsr`, `${dir}/out.tsr`, {
    specs: parseSpecList(specs),
    variantOnly,
    only,
    chunkBytes: 4096,
  });
  return `${dir}/out.tsr`;
}

Deno.test("derive: every variant reads back as the encoder made it, and any tile equals the same tile of the whole", async () => {
  await withTempDir(async (dir) => {
    const c = await openContainerFile(await derived(dir, SPECS));
    try {
      assert.deepEqual(
        (await verifyContainer(c)).problems,
        [],
        "the lossless original is intact",
      );
      assert.deepEqual(c.index.variants?.map((v) => v.name), SPECS.split(","));
      const rng = new Rng(1);
      for (const t of c.index.tensors) {
        const original = await readRegion(c, t);
        const [rows, cols] = matrixShape(t.shape), w = dtypeWidth(t.dtype);
        for (const name of SPECS.split(",")) {
          const e = variantOf(c, t, name);
          const whole = await readVariantRegion(c, t, name);
          if (!e) {
            assert.equal(t.shape.length, 1, `${t.name} has a variant ${name}`);
            assert.deepEqual(whole, original);
            continue;
          }
          const again = encodeVariant(
            { dtype: t.dtype, shape: t.shape, bytes: original },
            parseSpec(name) as never,
            name,
            { mode: "fast", chunkBytes: 4096 },
          );
          assert.deepEqual(whole, again.dequantised, `${t.name} ${name}`);
          for (let k = 0; k < 3; k++) {
            const r0 = rng.int(rows), r1 = r0 + 1 + rng.int(rows - r0);
            const c0 = rng.int(cols), c1 = c0 + 1 + rng.int(cols - c0);
            const rect = { r0, r1, c0, c1 };
            assert.deepEqual(
              await readVariantRegion(c, t, name, rect),
              cutRect(whole, cols, w, rect),
              `${t.name} ${name} ${JSON.stringify(rect)}`,
            );
          }
        }
      }
    } finally {
      c.source.close();
    }
  });
});

Deno.test("derive: a variant-only container keeps the original's digest, cannot rebuild it, and serves its variants", async () => {
  await withTempDir(async (dir) => {
    const source = await openContainerFile(
      (await packFile(FIXTURE, `${dir}/in.tsr`), `${dir}/in.tsr`),
    );
    const sha = source.index.source.sha256;
    source.source.close();
    await deriveFile(`${dir}/in.tsr`, `${dir}/edge.tsr`, {
      specs: parseSpecList("int8,ternary:3"),
      variantOnly: true,
    });
    await deriveFile(`${dir}/in.tsr`, `${dir}/edge3.tsr`, {
      specs: parseSpecList("ternary:3"),
      variantOnly: true,
    });
    const inSize = (await Deno.stat(`${dir}/in.tsr`)).size;
    const outSize = (await Deno.stat(`${dir}/edge3.tsr`)).size;
    assert.ok(outSize < inSize * 0.6, `${outSize} of ${inSize}`);
    const c = await openContainerFile(`${dir}/edge.tsr`);
    try {
      assert.equal(c.index.source.sha256, sha);
      await expectContainerError(readOriginal(c), "variant_only");
      const q = tensorOf(c, "model.layers.0.self_attn.q_proj.weight");
      assert.ok(!q.encodings.some((e) => e.kind === "lossless"));
      await expectContainerError(readRegion(c, q), "variant_only");
      assert.equal((await readVariantRegion(c, q, "int8")).length, 64 * 64 * 2);
      // A norm has no variant: it keeps its lossless encoding and is exact under every name.
      const norm = tensorOf(c, "model.norm.weight");
      assert.deepEqual(await readVariantRegion(c, norm, "ternary:3"), await readRegion(c, norm));
    } finally {
      c.source.close();
    }
  });
});

Deno.test("derive: a second derive keeps the first variants, copied, and refuses a name twice", async () => {
  await withTempDir(async (dir) => {
    const first = await derived(dir, "int8", false, /mlp/);
    await deriveFile(first, `${dir}/two.tsr`, { specs: parseSpecList("bf16") });
    const a = await openContainerFile(first), b = await openContainerFile(`${dir}/two.tsr`);
    try {
      assert.deepEqual(b.index.variants?.map((v) => v.name), ["int8", "bf16"]);
      for (const t of a.index.tensors) {
        assert.deepEqual(
          await readVariantRegion(b, tensorOf(b, t.name), "int8"),
          await readVariantRegion(a, t, "int8"),
        );
        assert.equal(variantOf(a, t, "int8") !== null, /mlp/.test(t.name) && t.shape.length > 1);
      }
    } finally {
      a.source.close();
      b.source.close();
    }
    await assert.rejects(
      deriveFile(first, `${dir}/three.tsr`, { specs: parseSpecList("int8") }),
      /already holds variant "int8"/,
    );
    await assert.rejects(
      deriveFile(first, `${dir}/four.tsr`, { specs: parseSpecList("auto:kl=0.1") }),
      /needs a model to judge KL/,
    );
  });
});

Deno.test("derive: auto:rmse keeps norms and small tensors exact, with reasons, and meets its budget", async () => {
  await withTempDir(async (dir) => {
    const c = await openContainerFile(await derived(dir, "auto:rmse=0.03"));
    try {
      for (const t of c.index.tensors) {
        const e = t.encodings.find((x) => (x as { name?: string }).name === "auto:rmse=0.03") as
          | { kind: string; reason: string; error?: { relRmse: number } }
          | undefined;
        assert.ok(e, t.name);
        if (t.shape.length === 1) assert.equal(e.kind, "exact", t.name);
        if (e.kind !== "exact") assert.ok(e.error!.relRmse <= 0.03, `${t.name} ${e.reason}`);
        assert.ok(e.reason.length > 0);
      }
    } finally {
      c.source.close();
    }
  });
});

Deno.test("derive: hand-edited variant encodings are index_invalid", async () => {
  await withTempDir(async (dir) => {
    const bytes = await Deno.readFile(await derived(dir, "int8,ternary:2,svd:energy=0.5"));
    // deno-lint-ignore no-explicit-any
    type J = any;
    const at = (j: J, name: string) =>
      j.tensors.find((t: J) => t.name === "model.layers.1.mlp.up_proj.weight").encodings.find((
        e: J,
      ) => e.name === name);
    const cases: [string, (j: J) => void][] = [
      ["unknown variant name", (j) => void (at(j, "int8").name = "int9")],
      ["name not in the list", (j) => void (j.variants = j.variants.slice(1))],
      ["name listed twice", (j) => void j.variants.push(j.variants[0])],
      ["bad name", (j) => void (j.variants[0].name = "Int8/../x")],
      ["variant entry without decodeMs", (j) => void delete j.variants[0].decodeMs],
      ["negative decodeMs", (j) => void (j.variants[0].decodeMs = -1)],
      ["decodeMs a string", (j) => void (j.variants[0].decodeMs = "1")],
      ["variant entry without sha256", (j) => void delete j.variants[0].sha256],
      ["upper-case file sha256", (j) => void (j.variants[0].sha256 = "A".repeat(64))],
      ["short file sha256", (j) => void (j.variants[0].sha256 = "a".repeat(63))],
      ["extra variant entry member", (j) => void (j.variants[0].size = 1)],
      ["lossy encoding without sha256", (j) => void delete at(j, "int8").sha256],
      ["lossy sha256 not hex", (j) => void (at(j, "int8").sha256 = "g".repeat(64))],
      ["extra member", (j) => void (at(j, "int8").extra = 1)],
      ["missing params", (j) => void delete at(j, "int8").params],
      ["bad scheme", (j) => void (at(j, "int8").params.scheme = "odd")],
      ["zero group", (j) => void (at(j, "int8").params.group = 0)],
      ["view not a split", (j) => void (at(j, "int8").view = [86, 128])],
      ["a chunk too many", (j) => void at(j, "int8").chunks.push(at(j, "int8").chunks[0])],
      ["raw length off", (j) => void (at(j, "int8").chunks[0][2] += 1)],
      ["misaligned chunk", (j) => void (at(j, "int8").chunks[0][0] += 1)],
      ["tile splits groups", (j) => {
        const e = at(j, "ternary:2");
        e.params.group = 3;
      }],
      ["five bases", (j) => void (at(j, "ternary:2").params.bases = 5)],
      ["rank too high", (j) => void (at(j, "svd:energy=0.5").params.rank = 65)],
      ["error not a number", (j) => void (at(j, "int8").error.relRmse = "small")],
      ["exact with chunks", (j) => {
        const e = at(j, "int8");
        for (const k of Object.keys(e)) {
          if (!["kind", "name", "reason", "chunks"].includes(k)) delete e[k];
        }
        e.kind = "exact";
      }],
      ["two lossless", (j) => {
        const t = j.tensors[1];
        t.encodings.push(t.encodings[0]);
      }],
      ["variant-only without the variant", (j) => {
        const t = j.tensors.find((x: J) => x.name === "model.layers.1.mlp.up_proj.weight");
        t.encodings = t.encodings.filter((e: J) => e.kind !== "lossless" && e.name !== "int8");
      }],
      ["variant on an integer tensor", (j) => {
        const t = j.tensors.find((x: J) => x.name === "model.layers.1.mlp.up_proj.weight");
        t.dtype = "I16";
      }],
    ];
    for (const [label, mutate] of cases) {
      await expectContainerError(
        () => openBytes(editIndex(bytes, (j) => void mutate(j))),
        "index_invalid",
      ).catch((e) => {
        throw new Error(`${label}: ${e.message}`);
      });
    }
    // Unknown kinds are still skipped.
    const c = await openBytes(
      editIndex(bytes, (j: J) => void j.tensors[0].encodings.push({ kind: "delta" })),
    );
    c.source.close();
  });
});

Deno.test("derive: verify checks every variant's chunks and digests, of a variant-only container too", async () => {
  await withTempDir(async (dir) => {
    const path = await derived(dir, "int8,ternary:2", true);
    const c = await openContainerFile(path);
    try {
      const report = await verifyContainer(c);
      assert.deepEqual(report.problems, []);
      const lossy = c.index.tensors.reduce(
        (n, t) =>
          n +
          ["int8", "ternary:2"].reduce((m, v) => m + (variantOf(c, t, v)?.chunks.length ?? 0), 0),
        0,
      );
      assert.ok(report.chunks >= lossy);
    } finally {
      c.source.close();
    }
    // A flipped byte in a variant chunk is reported, naming the variant and the tensor.
    const bytes = await Deno.readFile(path);
    const c2 = await openBytes(bytes);
    const t = c2.index.tensors.find((x) => variantOf(c2, x, "int8"))!;
    const [offset, stored] = variantOf(c2, t, "int8")!.chunks[0];
    bytes[offset + stored - 2] ^= 0x40;
    const report = await verifyContainer(await openBytes(bytes));
    assert.ok(report.problems.length > 0);
    assert.ok(
      report.problems.every((p) => p.message.startsWith("variant int8:") && p.tensor === t.name),
      JSON.stringify(report.problems),
    );
  });
});
