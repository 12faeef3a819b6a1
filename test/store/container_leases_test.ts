import assert from "node:assert/strict";
import { readChunk } from "../helpers/container.ts";
import { createContainerLeases } from "../../src/store/container_leases.ts";
import { StoreError } from "../../src/store/errors.ts";
import { demoContainer, installSynthetic } from "../server/harness.ts";

Deno.test("leases: shared while unchanged; a replaced file keeps serving its holders, then closes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera_leases_" });
  const leases = createContainerLeases();
  try {
    await installSynthetic(dir);
    const path = `${dir}/test/tiny/main/model.tsr`;
    const a = await leases.acquire(path);
    const b = await leases.acquire(path);
    assert.equal(a.container, b.container);
    assert.equal(leases.open, 1);
    const t = a.container.index.tensors.find((x) => x.name === "w/a:b")!;
    const before = await readChunk(a.container, t, 3);
    // Publish another container over the path, as an upload does.
    await Deno.writeFile(`${dir}/next.tsr`, await demoContainer());
    await Deno.rename(`${dir}/next.tsr`, path);
    const c = await leases.acquire(path);
    assert.notEqual(c.container, a.container);
    assert.equal(c.container.index.tensors.length, 47);
    assert.equal(leases.open, 2);
    // The old holders still read the old file's bytes.
    assert.deepEqual(await readChunk(a.container, t, 3), before);
    a.release();
    a.release(); // idempotent
    assert.equal(leases.open, 2);
    b.release();
    assert.equal(leases.open, 1, "the replaced file closes after its last release");
    c.release();
    await assert.rejects(
      leases.acquire(`${dir}/nope/model.tsr`),
      (e) => e instanceof StoreError && e.kind === "file_not_found",
    );
  } finally {
    leases.close();
    await Deno.remove(dir, { recursive: true });
  }
});
