/**
 * The fuzz supervisor pins a hang or a crash to its case: a child made to hang (or die) at one case
 * of one target must leave exactly that case saved, with its input, and a failing exit status.
 */
import assert from "node:assert/strict";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

async function fuzzWith(selfTest: string, dir: string): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--seconds", "8", "--targets", "range", "--case-limit-ms", "1500"],
    env: { TESSERA_FUZZ_SELFTEST: selfTest, TESSERA_FUZZ_FINDINGS: dir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

for (const kind of ["hang", "crash"] as const) {
  Deno.test(`fuzz supervisor: a ${kind} is pinned to its case and saved`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "tessera_fuzz_sup_" });
    try {
      const out = await fuzzWith(`${kind}:range:40`, dir);
      const log = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 1, log);
      const saved = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.deepEqual(saved, [`range-${kind}-1-40.json`], log);
      const f = JSON.parse(await Deno.readTextFile(`${dir}/${saved[0]}`));
      assert.equal(typeof f.input.header, "string");
      assert.match(log, /cases in all/, "the run went on after the finding");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
