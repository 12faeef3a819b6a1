import assert from "node:assert/strict";
import { createAtomicFile } from "../../src/io/atomic_file.ts";

Deno.test("createAtomicFile: gaps read as zeros, earlier bytes survive out-of-order writes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera_atomic_" });
  try {
    const path = `${dir}/out.bin`;
    const f = await createAtomicFile(path);
    await f.writeAt(0, new Uint8Array(500).fill(0xaa)); // frontier 500
    await f.writeAt(0, new Uint8Array(100).fill(0xbb)); // back to the start
    await f.writeAt(200, new Uint8Array(10).fill(0xcc)); // a gap over bytes already written
    await f.writeAt(520, new Uint8Array(5).fill(0xdd)); // a padding gap past the frontier
    await f.writeAt(600, Uint8Array.of(0xee)); // another, right after
    await f.commit();
    const got = await Deno.readFile(path);
    const want = new Uint8Array(601);
    want.fill(0xaa, 0, 500), want.fill(0xbb, 0, 100), want.fill(0xcc, 200, 210);
    want.fill(0xdd, 520, 525), want[600] = 0xee;
    assert.deepEqual(got, want);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
