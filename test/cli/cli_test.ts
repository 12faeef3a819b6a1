/**
 * The command line, run in-process through `main`: exit codes, files written, and that failures
 * leave no partial output. One real subprocess checks `verify` end to end.
 */
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { readRegion, tensorOf } from "../../src/container/read.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { buildSafetensors, rawSafetensors } from "../safetensors/fixture.ts";
import { listDir, sha256, withTempDir } from "../helpers/container.ts";

const FIXTURE = new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url).pathname;
const REPO = new URL("../../", import.meta.url).pathname;

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `main(args)` with console.log/error captured. */
async function run(...args: string[]): Promise<Run> {
  const out: string[] = [], err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => void out.push(a.map(String).join(" "));
  console.error = (...a: unknown[]) => void err.push(a.map(String).join(" "));
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Packs the fixture into `dir/m.tsr` through the CLI. */
async function packFixture(dir: string, ...flags: string[]): Promise<string> {
  const tsr = `${dir}/m.tsr`;
  const r = await run("pack", FIXTURE, tsr, ...flags);
  assert.equal(r.code, 0, r.err);
  return tsr;
}

/** Flips one bit in the middle of chunk `chunk` of tensor `name`; returns [tensor, chunk]. */
async function corrupt(tsr: string, name?: string, chunk = 0): Promise<[string, number]> {
  const c = await openContainerFile(tsr);
  const t = name
    ? tensorOf(c, name)
    : c.index.tensors.find((x) => losslessOf(x).chunks.length > 1)!;
  c.source.close();
  const [offset, stored] = losslessOf(t).chunks[chunk];
  const bytes = await Deno.readFile(tsr);
  bytes[offset + (stored >> 1)] ^= 0x04;
  await Deno.writeFile(tsr, bytes);
  return [t.name, chunk];
}

Deno.test("cli: pack, verify, unpack round trip the fixture byte for byte", async () => {
  await withTempDir(async (dir) => {
    for (const mode of ["fast", "best"]) {
      const tsr = `${dir}/${mode}.tsr`, out = `${dir}/${mode}.safetensors`;
      const p = await run(
        "pack",
        FIXTURE,
        tsr,
        "--mode",
        mode,
        "--align",
        "128",
        "--chunk-kib",
        "8",
        "--workers",
        mode === "fast" ? "2" : "0",
      );
      assert.equal(p.code, 0, p.err);
      assert.match(p.out, /ratio/);
      const v = await run("verify", tsr);
      assert.equal(v.code, 0, v.err);
      assert.match(v.out, /OK/);
      const u = await run("unpack", tsr, out);
      assert.equal(u.code, 0, u.err);
      assert.equal(sha256(await Deno.readFile(out)), sha256(await Deno.readFile(FIXTURE)));
      const c = await openContainerFile(tsr);
      c.source.close();
      assert.equal(c.index.mode, mode);
      assert.equal(c.index.alignment, 128);
      assert.equal(c.index.chunkBytes, 8 * 1024);
    }
    assert.deepEqual(listDir(dir), [
      "best.safetensors",
      "best.tsr",
      "fast.safetensors",
      "fast.tsr",
    ]);
  });
});

Deno.test("cli: inspect --json of a container and of a safetensors file", async () => {
  await withTempDir(async (dir) => {
    const tsr = await packFixture(dir);
    const r = await run("inspect", tsr, "--json");
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.format, "tessera v3");
    assert.ok(Array.isArray(j.layers) && j.layers.length > 0);
    assert.ok(Array.isArray(j.tensors) && j.tensors.length === 47);
    assert.equal(j.layers[0].key, "model.embed_tokens");
    assert.equal(
      j.layers.reduce((s: number, l: { tensors: number }) => s + l.tensors, 0),
      j.tensors.length,
    );
    const embed = j.tensors.find((t: { name: string }) => t.name === "model.embed_tokens.weight");
    assert.deepEqual(embed.shape, [512, 64]);
    assert.equal(embed.dtype, "BF16");
    assert.ok(embed.storedBytes > 0 && embed.storedBytes < embed.rawBytes);
    assert.match(embed.codec, /^[a-z?]+\+[a-z?]+$/);
    assert.equal(j.originalBytes, (await Deno.stat(FIXTURE)).size);

    const s = await run("inspect", FIXTURE, "--json");
    assert.equal(s.code, 0, s.err);
    const js = JSON.parse(s.out);
    assert.equal(js.format, "safetensors");
    assert.deepEqual(
      js.layers.map((l: { key: string }) => l.key),
      j.layers.map((l: { key: string }) => l.key),
    );
    // The table form works too.
    const t = await run("inspect", tsr);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /model\.layers\.4/);
  });
});

Deno.test("cli: extract -o writes exactly the bytes readRegion returns", async () => {
  await withTempDir(async (dir) => {
    const tsr = await packFixture(dir, "--chunk-kib", "4");
    const c = await openContainerFile(tsr);
    try {
      const name = "model.layers.2.mlp.down_proj.weight"; // [64, 172]
      const t = tensorOf(c, name);
      const cases: [string[], { r0: number; r1: number; c0: number; c1: number }][] = [
        [[], { r0: 0, r1: 64, c0: 0, c1: 172 }],
        [["--rows", "3:17"], { r0: 3, r1: 17, c0: 0, c1: 172 }],
        // Negative bounds need the `=` form: node:util parseArgs reads "-20:" as an option.
        [["--cols=-20:"], { r0: 0, r1: 64, c0: 152, c1: 172 }],
        [["--rows=-3", "--cols", "0:2"], { r0: 61, r1: 62, c0: 0, c1: 2 }],
        [["--rows", "5", "--cols", "10:100"], { r0: 5, r1: 6, c0: 10, c1: 100 }],
        [["--rows", "7:7"], { r0: 7, r1: 7, c0: 0, c1: 172 }],
      ];
      for (const [i, [flags, rect]] of cases.entries()) {
        const out = `${dir}/x${i}.bin`;
        const r = await run("extract", tsr, name, ...flags, "-o", out);
        assert.equal(r.code, 0, r.err);
        assert.deepEqual(await Deno.readFile(out), await readRegion(c, t, rect), flags.join(" "));
      }
      // 1-D tensor: --cols slices it.
      const norm = "model.norm.weight";
      const r = await run("extract", tsr, norm, "--cols", "8:16", "--output", `${dir}/n.bin`);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(
        await Deno.readFile(`${dir}/n.bin`),
        await readRegion(c, tensorOf(c, norm), { r0: 0, r1: 1, c0: 8, c1: 16 }),
      );
    } finally {
      c.source.close();
    }
  });
});

Deno.test("cli: usage errors exit 2 and write nothing", async () => {
  await withTempDir(async (dir) => {
    const tsr = await packFixture(dir);
    const o = `${dir}/o`;
    const cases: string[][] = [
      [],
      ["frobnicate"],
      ["pack", FIXTURE, o, "--bogus"],
      ["pack", FIXTURE, o, "--mode", "medium"],
      ["pack", FIXTURE, o, "--mode"],
      ["pack", FIXTURE],
      ["pack", FIXTURE, o, "extra"],
      ["pack", FIXTURE, o, "--layer-regex", "("],
      ["pack", FIXTURE, o, "--workers", "-1"],
      ["pack", FIXTURE, o, "--workers", "two"],
      ["unpack", tsr],
      ["unpack", tsr, o, "--force"],
      ["verify"],
      ["verify", "--bogus"],
      ["verify", tsr, tsr],
      ["inspect"],
      ["inspect", tsr, "--yaml"],
      ["extract", tsr],
      ["extract", tsr, "model.norm.weight", "-o", o, "--bogus"],
      ["extract", tsr, "model.norm.weight", "--rows"],
      ["extract", tsr, "model.norm.weight", "--cols", "-20:", "-o", o],
    ];
    for (const args of cases) {
      const r = await run(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, /usage/, args.join(" "));
      assert.equal(await exists(o), false, args.join(" "));
    }
    assert.deepEqual(listDir(dir), ["m.tsr"]);
  });
});

Deno.test("cli: bad inputs exit 1 and leave no partial output", async () => {
  await withTempDir(async (dir) => {
    const tsr = await packFixture(dir);
    const bad = `${dir}/bad.safetensors`;
    await Deno.writeFile(
      bad,
      rawSafetensors('{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', 8),
    );
    const notTsr = `${dir}/not.tsr`;
    await Deno.writeFile(notTsr, new Uint8Array(100));
    const o = `${dir}/o`;
    const missing = `${dir}/missing`;
    const cases: [string[], RegExp][] = [
      [["pack", missing, o], /No such file|not found/i],
      [["pack", bad, o], /data_length_mismatch|data section/],
      [["pack", FIXTURE, o, "--align", "100"], /alignment/],
      [["pack", FIXTURE, o, "--align", "8192"], /alignment/],
      [["pack", FIXTURE, o, "--chunk-kib", "abc"], /chunk size/],
      [["pack", dir, o], /directory/i],
      [["unpack", missing, o], /No such file|not found/i],
      [["unpack", notTsr, o], /bad_magic/],
      [["unpack", FIXTURE, o], /bad_magic/],
      [["verify", missing], /No such file|not found/i],
      [["verify", notTsr], /bad_magic/],
      [["inspect", missing], /No such file|not found/i],
      [["inspect", bad], /data_length_mismatch|data section/],
      [["extract", missing, "x", "-o", o], /No such file|not found/i],
      [["extract", tsr, "no.such.tensor", "-o", o], /tensor_not_found/],
      [["extract", tsr, "model.norm.weight", "--rows", "1:2", "-o", o], /bad_slice/],
      [["extract", tsr, "model.norm.weight", "--cols", "60:70", "-o", o], /bad_slice/],
      [["extract", tsr, "model.norm.weight", "--cols", "abc", "-o", o], /bad_slice/],
      [
        ["extract", tsr, "model.layers.0.self_attn.q_proj.weight", "--rows", "9:3", "-o", o],
        /bad_slice/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, message, args.join(" "));
      assert.equal(await exists(o), false, `${args.join(" ")} left ${o}`);
    }
    // An output path that is a directory: the rename fails, the temp file is removed.
    await Deno.mkdir(`${dir}/sub`);
    for (
      const args of [["unpack", tsr, `${dir}/sub`], [
        "extract",
        tsr,
        "model.norm.weight",
        "-o",
        `${dir}/sub`,
      ]]
    ) {
      const r = await run(...args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.err}`);
      assert.deepEqual(listDir(`${dir}/sub`), []);
    }
    assert.deepEqual(listDir(dir), ["bad.safetensors", "m.tsr", "not.tsr", "sub"], "no temp files");
  });
});

Deno.test("cli: a corrupted container fails verify (exit 1, names the chunk) and unpack", async () => {
  await withTempDir(async (dir) => {
    const tsr = await packFixture(dir, "--chunk-kib", "4");
    const [name, chunk] = await corrupt(tsr);
    const v = await run("verify", tsr);
    assert.equal(v.code, 1);
    assert.ok(v.err.includes(`tensor "${name}" chunk ${chunk}`), v.err);
    const u = await run("unpack", tsr, `${dir}/out.safetensors`);
    assert.equal(u.code, 1);
    assert.match(u.err, /chunk_corrupt/);
    const e = await run("extract", tsr, name, "-o", `${dir}/x.bin`);
    assert.equal(e.code, 1);
    assert.match(e.err, /chunk_corrupt/);
    // Extracting a part that does not touch the bad chunk still works.
    const ok = await run("extract", tsr, "model.norm.weight", "-o", `${dir}/n.bin`);
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(listDir(dir), ["m.tsr", "n.bin"]);
    // A truncated container.
    const bytes = await Deno.readFile(tsr);
    await Deno.writeFile(tsr, bytes.subarray(0, bytes.length - 10));
    const t = await run("verify", tsr);
    assert.equal(t.code, 1);
    assert.match(t.err, /truncated/);
  });
});

Deno.test("cli: pack --layer-regex groups tensors by the custom key", async () => {
  const src = buildSafetensors([
    { name: "blk_0_q", dtype: "BF16", shape: [4, 4] },
    { name: "blk_1_q", dtype: "BF16", shape: [4, 4] },
  ]);
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/in.safetensors`, src);
    const r = await run(
      "pack",
      `${dir}/in.safetensors`,
      `${dir}/o.tsr`,
      "--layer-regex",
      "^(blk_\\d+)_",
    );
    assert.equal(r.code, 0, r.err);
    const i = await run("inspect", `${dir}/o.tsr`, "--json");
    assert.deepEqual(JSON.parse(i.out).layers.map((l: { key: string }) => l.key), [
      "blk_0",
      "blk_1",
    ]);
  });
});

Deno.test("cli subprocess: deno run src/cli/main.ts verify on a corrupted container", async () => {
  await withTempDir(async (dir) => {
    const tsr = await packFixture(dir, "--chunk-kib", "4");
    const [name, chunk] = await corrupt(tsr, "model.layers.3.mlp.up_proj.weight", 1);
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "src/cli/main.ts", "verify", tsr],
      cwd: REPO,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 1, `${err}\n${new TextDecoder().decode(stdout)}`);
    assert.ok(err.includes(`FAIL tensor "${name}" chunk ${chunk}`), err);
    assert.match(err, /1 problem/);
  });
});
