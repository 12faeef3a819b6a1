/**
 * Replays every input the fuzzer ever saved (test/fixtures/fuzz/*.json) against its target: each
 * must now be accepted or refused with a documented error, and keep every invariant. A finding is
 * committed with its fix and stays here for good. Findings still open (their fix belongs to another
 * area) wait in test/fixtures/fuzz/open/ as ignored tests, so that every run lists them; fixing one
 * is moving its file up a folder.
 */
import assert from "node:assert/strict";
import { decodeInput, FINDINGS_DIR, runCase } from "./core.ts";
import { TARGETS } from "./targets/all.ts";

const files = [...Deno.readDirSync(FINDINGS_DIR)]
  .filter((e) => e.isFile && e.name.endsWith(".json"))
  .map((e) => e.name)
  .sort();

Deno.test("fuzz findings: the folder holds findings in the documented form", () => {
  assert.ok(files.length > 0, "test/fixtures/fuzz/ keeps at least the issue-10 regressions");
  for (const name of files) {
    const f = JSON.parse(Deno.readTextFileSync(new URL(name, FINDINGS_DIR)));
    assert.ok(TARGETS.some((t) => t.name === f.target), `${name}: unknown target ${f.target}`);
    assert.ok(Number.isSafeInteger(f.seed) && Number.isSafeInteger(f.index), name);
  }
});

for (const target of TARGETS) {
  const mine = files.filter((n) => n.startsWith(`${target.name}-`));
  if (mine.length === 0) continue;
  Deno.test(`fuzz findings: ${target.name} (${mine.length}) replay clean`, async () => {
    await target.setup?.();
    try {
      for (const name of mine) {
        const f = JSON.parse(await Deno.readTextFile(new URL(name, FINDINGS_DIR)));
        const outcome = await runCase(target, decodeInput(f.input));
        assert.equal(outcome, null, `${name}: ${outcome?.kind}: ${outcome?.message}`);
      }
    } finally {
      await target.teardown?.();
    }
  });
}

const OPEN_DIR = new URL("open/", FINDINGS_DIR);
const open = (() => {
  try {
    return [...Deno.readDirSync(OPEN_DIR)].filter((e) => e.name.endsWith(".json")).map((e) =>
      e.name
    ).sort();
  } catch {
    return [];
  }
})();
for (const name of open) {
  const f = JSON.parse(Deno.readTextFileSync(new URL(name, OPEN_DIR)));
  Deno.test({
    name: `OPEN fuzz finding ${name}: ${f.kind} in ${f.target} (see test/fixtures/fuzz/README.md)`,
    ignore: true,
    fn: async () => {
      const target = TARGETS.find((t) => t.name === f.target)!;
      await target.setup?.();
      assert.equal(await runCase(target, decodeInput(f.input)), null);
    },
  });
}
