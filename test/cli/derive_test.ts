/**
 * `derive`, `pack --variant` and `inspect` of variants, run in-process through `main`.
 * @module
 */
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { listDir, withTempDir } from "../helpers/container.ts";

const FIXTURE = new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url).pathname;

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => void out.push(a.map(String).join(" "));
  console.error = (...a: unknown[]) => void err.push(a.map(String).join(" "));
  try {
    return { code: await main(args), out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("cli: derive adds variants, inspect shows each representation's size, ratio and error", async () => {
  await withTempDir(async (dir) => {
    assert.equal((await run("pack", FIXTURE, `${dir}/m.tsr`, "--mode", "fast")).code, 0);
    const d = await run(
      "derive",
      `${dir}/m.tsr`,
      `${dir}/v.tsr`,
      "--variant",
      "int8,ternary:3",
      "--only",
      "mlp",
    );
    assert.equal(d.code, 0, d.err);
    assert.match(d.out, /int8, ternary:3/);
    const i = await run("inspect", `${dir}/v.tsr`);
    assert.equal(i.code, 0, i.err);
    assert.match(
      i.out,
      /variant\s+lossy\s+stored\s+ratio\s+avg ratio\s+saved\s+derive\/t\s+decode\/t/,
    );
    assert.match(
      i.out,
      /model\.layers\.0\.mlp\.up_proj\.weight\s+ternary:3\s+ternary\s+[\d.]+ KiB/,
    );
    const j = JSON.parse((await run("inspect", `${dir}/v.tsr`, "--json")).out);
    assert.deepEqual(j.variants.map((v: { name: string }) => v.name), ["int8", "ternary:3"]);
    assert.equal(j.variants[0].lossyTensors, 15);
    assert.equal(j.variants[0].kinds.int8, 15);
    assert.ok(j.variants[0].decodeMs > 0 && j.variants[0].savedBytes > 0);
    const up = j.tensors.find((t: { name: string }) =>
      t.name === "model.layers.0.mlp.up_proj.weight"
    );
    assert.deepEqual(up.representations.map((r: { name: string }) => r.name), [
      "lossless",
      "int8",
      "ternary:3",
    ]);
    assert.ok(up.representations[1].relRmse > 0 && up.representations[1].relRmse < 0.02);
  });
});

Deno.test("cli: pack --variant --variant-only writes one container and no temporary file", async () => {
  await withTempDir(async (dir) => {
    const r = await run(
      "pack",
      FIXTURE,
      `${dir}/e.tsr`,
      "--variant",
      "ternary:2",
      "--variant-only",
    );
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(listDir(dir), ["e.tsr"]);
    const c = await openContainerFile(`${dir}/e.tsr`);
    c.source.close();
    assert.deepEqual(c.index.variants?.map((v) => v.name), ["ternary:2"]);
    const i = await run("inspect", `${dir}/e.tsr`);
    assert.match(i.out, /variantOnly true/);
  });
});

Deno.test("cli: bad variant arguments are usage errors and write nothing", async () => {
  await withTempDir(async (dir) => {
    assert.equal((await run("pack", FIXTURE, `${dir}/m.tsr`)).code, 0);
    for (
      const args of [
        ["--variant", "int9"],
        ["--variant", "ternary:5"],
        ["--variant", "svd:energy=0.9:ratio=2"],
        ["--variant", "int8,int8"],
        ["--only", "("],
        [],
      ]
    ) {
      const r = await run("derive", `${dir}/m.tsr`, `${dir}/o.tsr`, "--variant", "int8", ...args);
      if (args.length === 0) {
        assert.equal(r.code, 0, r.err);
        await Deno.remove(`${dir}/o.tsr`);
        continue;
      }
      assert.equal(r.code, 2, `${args}: ${r.err}`);
      assert.match(r.err, /usage: tessera derive/);
    }
    const none = await run("derive", `${dir}/m.tsr`, `${dir}/o.tsr`);
    assert.equal(none.code, 2);
    assert.deepEqual(listDir(dir), ["m.tsr"]);
  });
});
