import assert from "node:assert/strict";
import { packFile } from "../../src/pack/write.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { sha256Hex, withServer } from "../server/harness.ts";

const TENSORS = 12, CHUNKS = TENSORS * 16;

/** A 48 MiB model of large tensors, so a download outlasts socket buffers and read-ahead. */
function bigModel(): Uint8Array {
  const n = 1024 * 1024;
  const data = new Uint8Array(n * 4);
  const view = new DataView(data.buffer);
  let x = 0x9e3779b9;
  for (let k = 0; k < n; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    // Small-magnitude floats, like weights: exponent bits cluster.
    view.setFloat32(4 * k, ((x >>> 0) / 2 ** 32 - 0.5) * 0.1, true);
  }
  return buildSafetensors(
    Array.from({ length: TENSORS }, (_, i) => ({
      name: `model.layers.${i}.w`,
      dtype: "F32" as const,
      shape: [1024, 1024],
      data,
    })),
  );
}

const BIG = bigModel();
const setup = async (dir: string) => {
  await Deno.mkdir(`${dir}/big/model/main`, { recursive: true });
  await Deno.writeFile(`${dir}/big.safetensors`, BIG);
  await packFile(`${dir}/big.safetensors`, `${dir}/big/model/main/model.tsr`, { mode: "fast" });
  await Deno.remove(`${dir}/big.safetensors`);
};

Deno.test("streaming: a client that aborts mid-stream stops the decoding; the server stays healthy", async () => {
  await withServer(
    async ({ url, server, logs }) => {
      const u = `${url}/big/model/resolve/main/model.safetensors`;
      const abort = new AbortController();
      const res = await fetch(u, { signal: abort.signal });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      let got = 0;
      while (got < 1 << 20) got += (await reader.read()).value!.length;
      abort.abort();
      await reader.cancel().catch(() => {});
      // The server notices, releases the container and logs the request as abandoned.
      for (let i = 0; i < 100 && !logs.some((l) => l.includes("client went away")); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(logs.some((l) => l.includes("client went away")), logs.join("\n"));
      const decodedAtAbort = server.ctx.cache.figures().misses;
      const h = await fetch(`${url}/healthz`);
      assert.equal(h.status, 200);
      await h.body?.cancel();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(
        server.ctx.cache.figures().misses,
        decodedAtAbort,
        "no decoding after the abort",
      );
      assert.ok(decodedAtAbort < CHUNKS, `decoding stopped early: ${decodedAtAbort} of ${CHUNKS}`);
      const again = new Uint8Array(await (await fetch(u)).arrayBuffer());
      assert.equal(await sha256Hex(again), await sha256Hex(BIG));
    },
    {},
    setup,
  );
});

Deno.test("streaming: a worker pool decodes concurrent downloads and ranges correctly", async () => {
  await withServer(
    async ({ url, server }) => {
      assert.equal(server.ctx.pool.size, 2);
      const u = `${url}/big/model/resolve/main/model.safetensors`;
      const [a, b] = await Promise.all([fetch(u), fetch(u)]);
      const [x, y] = [new Uint8Array(await a.arrayBuffer()), new Uint8Array(await b.arrayBuffer())];
      const want = await sha256Hex(BIG);
      assert.equal(await sha256Hex(x), want);
      assert.equal(await sha256Hex(y), want);
      const r = await fetch(u, { headers: { Range: "bytes=5000000-5100000" } });
      assert.deepEqual(new Uint8Array(await r.arrayBuffer()), BIG.subarray(5000000, 5100001));
      const tile = await fetch(
        `${url}/v1/models/big/model/tensors/model.layers.1.w?rows=100:300&cols=500:900`,
      );
      const t = new Uint8Array(await tile.arrayBuffer());
      assert.equal(t.length, 200 * 400 * 4);
      const dataStart = BIG.length - TENSORS * 4 * 1024 * 1024;
      const row = 150, tensorStart = dataStart + 4 * 1024 * 1024;
      assert.deepEqual(
        t.subarray((row - 100) * 1600, (row - 100) * 1600 + 1600),
        BIG.subarray(tensorStart + (row * 1024 + 500) * 4, tensorStart + (row * 1024 + 900) * 4),
      );
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^tessera_decode_workers 2$/m);
    },
    { workers: 2, cacheBytes: 4 << 20 },
    setup,
  );
});

for (const workers of [2, 0]) {
  Deno.test(`streaming: a cold server (no cache, ${workers} workers) sends concurrent downloads and ranges byte-exact`, async () => {
    await withServer(
      async ({ url }) => {
        const u = `${url}/big/model/resolve/main/model.safetensors`;
        const want = await sha256Hex(BIG);
        // Four whole downloads and four ranges at once: each block's output is its own buffer,
        // read and decoded where it runs, however the requests interleave.
        const ranges = [[0, 99], [1 << 20, (5 << 20) + 17], [20_000_001, 29_999_999], [
          BIG.length - 3_000_000,
          BIG.length - 1,
        ]];
        const [whole, parts] = await Promise.all([
          Promise.all(
            Array.from(
              { length: 4 },
              async () => new Uint8Array(await (await fetch(u)).arrayBuffer()),
            ),
          ),
          Promise.all(ranges.map(async ([a, b]) => {
            const r = await fetch(u, { headers: { Range: `bytes=${a}-${b}` } });
            assert.equal(r.status, 206);
            return new Uint8Array(await r.arrayBuffer());
          })),
        ]);
        for (const w of whole) assert.equal(await sha256Hex(w), want);
        ranges.forEach(([a, b], i) => assert.deepEqual(parts[i], BIG.subarray(a, b + 1)));
      },
      { workers, cacheBytes: 0 },
      setup,
    );
  });
}
