import assert from "node:assert/strict";
import { losslessOf } from "../../src/container/index_schema.ts";
import { openBytes } from "../helpers/container.ts";
import { demoContainer, ORIGINAL, tensorSpan, withServer } from "../server/harness.ts";

/** Reads a response body whole; null when the connection is cut before the end. */
async function bodyOrCut(res: Response): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch {
    return null;
  }
}

Deno.test("corruption: a flipped byte in a chunk never yields a wrong byte", async () => {
  const good = await demoContainer();
  const c = await openBytes(good);
  const victim = c.index.tensors.find((t) => t.name === "model.layers.2.mlp.down_proj.weight")!;
  const [offset, stored] = losslessOf(victim).chunks[0];
  const span = tensorSpan(ORIGINAL, victim.name);
  const want = ORIGINAL.subarray(span.begin, span.end);
  let cut = 0, exact = 0;
  // Several positions: bytes in plane tables, in rANS payloads, near the end of the chunk.
  for (const pos of [1, 2, 7, Math.floor(stored / 3), Math.floor(stored / 2), stored - 2]) {
    await withServer(
      async ({ url, logs }) => {
        const requests: [string, Record<string, string>, Uint8Array][] = [
          [`${url}/v1/models/demo/stories260k/tensors/${victim.name}`, {}, want],
          [`${url}/demo/stories260k/resolve/main/model.safetensors`, {}, ORIGINAL],
          [
            `${url}/demo/stories260k/resolve/main/model.safetensors`,
            { Range: `bytes=${span.begin - 10}-${span.begin + 100}` },
            ORIGINAL.subarray(span.begin - 10, span.begin + 101),
          ],
          [`${url}/v1/models/demo/stories260k/layers/model.layers.2`, {}, new Uint8Array(0)],
        ];
        for (const [u, headers, expected] of requests) {
          const res = await fetch(u, { headers });
          const body = await bodyOrCut(res);
          if (body === null || res.status >= 500) {
            cut++;
            continue;
          }
          if (expected.length > 0) {
            assert.deepEqual(body, expected, `${u} ${JSON.stringify(headers)} flip at ${pos}`);
            exact++;
          }
        }
        // A buffered response (Content-Digest) fails before its headers: a clean 500.
        const tile = await fetch(
          `${url}/v1/models/demo/stories260k/tensors/${victim.name}?rows=0:2`,
          { headers: { "Want-Content-Digest": "sha-256" } },
        );
        const tileBody = await bodyOrCut(tile);
        if (tile.status === 500) {
          assert.equal(JSON.parse(new TextDecoder().decode(tileBody!)).error, "chunk_corrupt");
        } else {
          assert.equal(tile.status, 200);
        }
        // Tensors elsewhere in the file are unaffected, and the server stays healthy.
        const other = await fetch(`${url}/v1/models/demo/stories260k/tensors/model.norm.weight`);
        const n = tensorSpan(ORIGINAL, "model.norm.weight");
        assert.deepEqual(
          new Uint8Array(await other.arrayBuffer()),
          ORIGINAL.subarray(n.begin, n.end),
        );
        const h = await fetch(`${url}/healthz`);
        assert.equal(h.status, 200);
        await h.body?.cancel();
        if (cut > 0) {
          assert.ok(
            logs.some((l) => l.startsWith("ERROR") && l.includes("chunk")),
            logs.join("\n"),
          );
        }
      },
      {},
      async (dir) => {
        const bad = good.slice();
        bad[offset + pos] ^= 0x10;
        await Deno.mkdir(`${dir}/demo/stories260k/main`, { recursive: true });
        await Deno.writeFile(`${dir}/demo/stories260k/main/model.tsr`, bad);
      },
    );
  }
  assert.ok(cut > 0, "at least one flip is detected");
  console.log(`flips: ${cut} responses cut, ${exact} exact`);
});
