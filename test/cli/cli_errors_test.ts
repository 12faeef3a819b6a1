/**
 * Operating-system errors on the command line, as a user meets them: each is one line on stderr
 * and a non-zero exit, and leaves no partial output. Run as real processes, since a file-size
 * limit and Ctrl-C are signals.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { withTempDir } from "../helpers/container.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const FIXTURE = fileURLToPath(new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url));

async function cli(args: string[], opts: { shell?: string; cwd?: string } = {}) {
  const command = opts.shell
    ? new Deno.Command("bash", {
      args: ["-c", `${opts.shell}; exec "$0" run -A "$@"`, Deno.execPath(), CLI, ...args],
      cwd: opts.cwd,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    })
    : new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, ...args],
      cwd: opts.cwd,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    });
  const out = await command.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr).trim() };
}

function oneLine(stderr: string, pattern: RegExp) {
  const lines = stderr.split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], pattern);
}

const entries = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("cli errors: a busy port", async () => {
  await withTempDir(async (dir) => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const r = await cli(["serve", "--models", `${dir}/m`, "--port", String(taken.addr.port)]);
      assert.equal(r.code, 1);
      oneLine(r.stderr, /^error: .*in use.*--port/i);
    } finally {
      taken.close();
    }
  });
});

Deno.test("cli errors: a missing parent folder (input: one line; output: created)", async () => {
  await withTempDir(async (dir) => {
    const r = await cli(["pack", `${dir}/no/such/folder/in.safetensors`, `${dir}/o.tsr`]);
    assert.equal(r.code, 1);
    oneLine(r.stderr, /^error: not found: .*no\/such\/folder\/in\.safetensors/);
    // Outputs get their folders, from a relative path in the caller's folder.
    const ok = await cli(["pack", FIXTURE, "deep/er/o.tsr", "--mode", "fast"], { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(entries(`${dir}/deep/er`), ["o.tsr"]);
  });
});

Deno.test("cli errors: a read-only output folder", async () => {
  await withTempDir(async (dir) => {
    // A folder this process cannot write, even as root: sysfs, else a folder without write bits.
    let target = "/sys/kernel";
    if (Deno.uid() !== 0) {
      target = `${dir}/ro`;
      await Deno.mkdir(target, { mode: 0o555 });
    }
    const r = await cli(["pack", FIXTURE, `${target}/o.tsr`]);
    assert.equal(r.code, 1);
    oneLine(r.stderr, /^error: (permission denied|the file system is read-only): .*o\.tsr/);
    assert.ok(!r.stderr.includes(".tmp"), "the message names the output, not a temporary file");
  });
});

Deno.test("cli errors: a full disk, simulated by a file-size limit", async () => {
  await withTempDir(async (dir) => {
    const r = await cli(["pack", FIXTURE, `${dir}/out/o.tsr`], { shell: "ulimit -f 100" });
    assert.equal(r.code, 1, r.stderr);
    oneLine(r.stderr, /^error: a file-size limit was reached/);
    assert.deepEqual(entries(`${dir}/out`), [], "no partial output");
  });
});

Deno.test("cli errors: Ctrl-C during pack says nothing was written, and leaves nothing", async () => {
  await withTempDir(async (dir) => {
    // Big enough that packing is still running when the signal comes.
    const big = buildSafetensors(
      Array.from({ length: 12 }, (_, i) => ({
        name: `model.layers.${i}.w`,
        dtype: "F32" as const,
        shape: [1024, 1024],
      })),
    );
    await Deno.writeFile(`${dir}/big.safetensors`, big);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "pack", `${dir}/big.safetensors`, `${dir}/out/big.tsr`],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    // Wait for the output's temporary file: packing has started.
    for (let i = 0; i < 600; i++) {
      const started = await Array.fromAsync(Deno.readDir(`${dir}/out`)).then(
        (e) => e.length > 0,
        () => false,
      );
      if (started) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill("SIGINT");
    const out = await child.output();
    const err = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 130, err);
    oneLine(err, /^interrupted: .*big\.tsr was not written/);
    assert.deepEqual(entries(`${dir}/out`), [], "the temporary file is removed");
  });
});

Deno.test("cli errors: Ctrl-C during pull keeps the part file and says a rerun resumes", async () => {
  const { packModel, startHub } = await import("../client/hub_server.ts");
  await withTempDir(async (dir) => {
    const model = buildSafetensors(
      Array.from({ length: 8 }, (_, i) => ({
        name: `model.layers.${i}.w`,
        dtype: "F32" as const,
        shape: [512, 512],
      })),
    );
    await Deno.writeFile(`${dir}/m.safetensors`, model);
    await packModel(`${dir}/models`, "t/m", `${dir}/m.safetensors`);
    const hub = await startHub(`${dir}/models`);
    // A slow link in front of the hub (about 1 MB/s), so the pull is still running at the signal.
    const slow = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
      const url = new URL(req.url);
      const res = await fetch(`${hub.base}${url.pathname}${url.search}`, { headers: req.headers });
      const body = res.body?.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          async transform(chunk, c) {
            for (let at = 0; at < chunk.length; at += 16384) {
              await new Promise((r) => setTimeout(r, 16));
              c.enqueue(chunk.subarray(at, at + 16384));
            }
          },
        }),
      );
      return new Response(body, { status: res.status, headers: res.headers });
    });
    try {
      const base = `http://127.0.0.1:${slow.addr.port}/t/m`, out = `${dir}/got/m.safetensors`;
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, "pull", base, out, "--transport", "decoded"],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      for (let i = 0; i < 800; i++) {
        const size = await Deno.stat(`${out}.part`).then((s) => s.size, () => 0);
        if (size > 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      child.kill("SIGINT");
      const got = await child.output();
      const err = new TextDecoder().decode(got.stderr).trim();
      assert.equal(got.code, 130, err);
      oneLine(err, /^interrupted: .*m\.safetensors\.part.*run the same pull again to resume/);
      assert.ok((await Deno.stat(`${out}.part`)).size > 0, "the part file is kept");
      const again = await cli(["pull", `${hub.base}/t/m`, out]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(await Deno.readFile(out), model);
    } finally {
      await slow.shutdown();
      await hub.close();
    }
  });
});
