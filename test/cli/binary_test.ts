/**
 * `deno task compile` builds one `tessera` binary; from a temporary folder outside the repo it
 * packs, serves and pulls. `deno compile` needs Deno's `denort` runtime, which it downloads from
 * Deno's own site (or takes from `DENORT_BIN`): where neither is possible, the test says so and
 * is skipped.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { withTempDir } from "../helpers/container.ts";
import { skipIf } from "../helpers/skip.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE = `${REPO}/test/fixtures/stories260k.bf16.safetensors`;
const NAME = "binary: the compiled tessera packs, serves and pulls from a folder outside the repo";

/** The `compile` task's command line from deno.json, with its output at `output`. */
function compileArgs(output: string): string[] {
  const task: string = JSON.parse(Deno.readTextFileSync(`${REPO}/deno.json`)).tasks.compile;
  const args = task.split(/\s+/).slice(1); // drop "deno"
  const o = args.indexOf("--output");
  assert.ok(o > 0, "the compile task names its output");
  args[o + 1] = output;
  return args;
}

async function compile(output: string): Promise<{ ok: boolean; log: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(output),
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const log = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  return { ok: out.code === 0, log };
}

// Whether this machine can compile at all: a try with a one-line program.
const probe = await (async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera_probe_" });
  try {
    await Deno.writeTextFile(`${dir}/p.ts`, "console.log(1);\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["compile", "--output", `${dir}/p`, `${dir}/p.ts`],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    if (out.code === 0) return null;
    const err = new TextDecoder().decode(out.stderr);
    const line = err.split("\n").find((l) => /error|dns|denort/i.test(l)) ?? err.split("\n")[0];
    return `deno compile cannot get its denort runtime here (${line.trim()}); set DENORT_BIN`;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
})();

Deno.test({
  name: NAME,
  ignore: skipIf(probe, NAME),
  async fn() {
    await withTempDir(async (dir) => {
      const bin = `${dir}/tessera`;
      const built = await compile(bin);
      assert.ok(built.ok, built.log);
      const work = `${dir}/work`;
      await Deno.mkdir(work);
      await Deno.copyFile(FIXTURE, `${work}/model.safetensors`);
      const run = (args: string[]) =>
        new Deno.Command(bin, { args, cwd: work, stdout: "piped", stderr: "piped" }).output();
      // pack, with relative paths and a folder to create.
      const packed = await run(["pack", "model.safetensors", "out/model.tsr", "--mode", "fast"]);
      assert.equal(packed.code, 0, new TextDecoder().decode(packed.stderr));
      assert.ok((await Deno.stat(`${work}/out/model.tsr`)).size > 0);
      // serve (publishing the embedded demo model), then pull from it.
      const server = new Deno.Command(bin, {
        args: ["serve", "--models", "store", "--port", "0"],
        cwd: work,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        let text = "";
        const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let url = "";
        while (!url) {
          const r = await reader.read();
          if (r.done) throw new Error(`serve exited:\n${text}`);
          text += r.value;
          url = / at (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1] ?? "";
        }
        reader.releaseLock();
        const pulled = await run(["pull", `${url}/demo/stories260k`, "pulled/model.safetensors"]);
        assert.equal(pulled.code, 0, new TextDecoder().decode(pulled.stderr));
        assert.equal(
          sha256Hex(await Deno.readFile(`${work}/pulled/model.safetensors`)),
          sha256Hex(await Deno.readFile(FIXTURE)),
        );
      } finally {
        server.kill("SIGTERM");
        await server.status;
        await server.stdout.cancel().catch(() => {});
        await server.stderr.cancel().catch(() => {});
      }
    });
  },
});
