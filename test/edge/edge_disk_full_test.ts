/**
 * An edge whose disk is full (a file-size limit on its process, as `ulimit -f` sets): a raw blob it
 * cannot keep is a 507 `no_space` that names the edge's disk, not a 502 blaming the origin, no
 * temporary file stays behind, and what needs no disk room (the model through the container's
 * segments, whose caching is best effort; a small file) is still served.
 * @module
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { spawnEdge } from "../helpers/server_process.ts";
import { get, installDemo, withServer } from "../server/harness.ts";

/** 400 KiB: four times the edge's file-size limit. */
const BIG = Uint8Array.from({ length: 400 << 10 }, (_, i) => Math.imul(i, 2654435761) >>> 24);

Deno.test("edge: a full disk is 507 no_space for a blob it cannot keep, and the rest is still served", async () => {
  await withServer(
    async ({ url }) => {
      const cacheDir = await Deno.makeTempDir({ prefix: "tessera_edge_full_" });
      const edge = await spawnEdge(url, cacheDir, "ulimit -f 100");
      try {
        const big = await get(`${edge.url}/demo/stories260k/resolve/main/weights.bin`);
        assert.equal(big.status, 507, new TextDecoder().decode(big.body));
        const error = JSON.parse(new TextDecoder().decode(big.body));
        assert.equal(error.error, "no_space");
        assert.match(error.message, /disk tier/);
        const small = await get(`${edge.url}/demo/stories260k/resolve/main/config.json`);
        assert.equal(small.status, 200);
        const model = await get(`${edge.url}/demo/stories260k/resolve/main/model.safetensors`);
        assert.equal(model.status, 200);
        const origin = await get(`${url}/demo/stories260k/resolve/main/model.safetensors`);
        assert.equal(sha256Hex(model.body), sha256Hex(origin.body));
        const left = [];
        for await (const e of Deno.readDir(`${cacheDir}/spans/.tmp`)) left.push(e.name);
        assert.deepEqual(left, [], "no temporary file is left");
      } finally {
        await edge.kill("SIGTERM");
        await Deno.remove(cacheDir, { recursive: true });
      }
    },
    {},
    async (dir) => {
      const model = await installDemo(dir);
      await Deno.writeFile(model.replace(/model\.tsr$/, "weights.bin"), BIG);
    },
  );
});
