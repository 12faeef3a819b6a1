import assert from "node:assert/strict";
import { readChunk } from "../helpers/container.ts";
import { createContainerLeases } from "../../src/store/container_leases.ts";
import { StoreError } from "../../src/store/errors.ts";
import { demoContainer, installSynthetic } from "../server/harness.ts";

Deno.test("leases: shared per key; a forgotten container keeps serving its holders, then closes", async () => {
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
    // Its bytes are removed (garbage collection): holders keep reading; the next lease reopens.
    leases.forget(path);
    assert.equal(leases.open, 0);
    const c = await leases.acquire(path);
    assert.notEqual(c.container, a.container);
    assert.deepEqual(await readChunk(a.container, t, 3), before);
    a.release();
    a.release(); // idempotent
    b.release();
    c.release();
    assert.equal(leases.open, 1, "an idle container stays open for the next request");
    await assert.rejects(
      leases.acquire(`${dir}/nope/model.tsr`),
      (e) => e instanceof StoreError && e.kind === "file_not_found",
    );
  } finally {
    leases.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("leases: idle containers beyond the bound close, least recently used first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera_leases_" });
  const leases = createContainerLeases(undefined, 2);
  try {
    const bytes = await demoContainer();
    const paths = [0, 1, 2].map((i) => `${dir}/${i}.tsr`);
    for (const p of paths) await Deno.writeFile(p, bytes);
    for (const p of paths) (await leases.acquire(p)).release();
    assert.equal(leases.open, 2);
    const held = await leases.acquire(paths[0]);
    assert.equal(leases.open, 3, "a held container is never closed for room");
    held.release();
    assert.equal(leases.open, 2);
  } finally {
    leases.close();
    await Deno.remove(dir, { recursive: true });
  }
});
