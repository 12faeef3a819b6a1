/**
 * The HTTP byte source against the real server: one round trip to open (prefix and suffix at
 * once), `If-Match` on every later range, a container replaced mid-read refused, and a whole model
 * pulled compressed in at most ⌈container bytes / 4 MiB⌉ + 3 requests.
 */
import assert from "node:assert/strict";
import { ClientError } from "../../src/client/errors.ts";
import type { Fetch } from "../../src/client/http.ts";
import { HTTP_HINTS, openHttpSource } from "../../src/client/http_source.ts";
import { openRemoteContainer } from "../../src/client/remote_container.ts";
import { pullFile } from "../../src/cli/pull.ts";
import { assemble } from "../../src/container/assemble.ts";
import { planBlocks } from "../../src/container/plan.ts";
import { originalPieces, readOriginalHeader } from "../../src/container/read.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors, type FixtureTensor } from "../safetensors/fixture.ts";
import { concat, dtypeData, sha256, withTempDir } from "../helpers/container.ts";
import { packModel, startHub } from "./hub_server.ts";

interface Sent {
  readonly method: string;
  readonly range: string | null;
  readonly ifMatch: string | null;
  readonly status: number;
}

function recording(log: Sent[]): Fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    const res = await fetch(req);
    log.push({
      method: req.method,
      range: req.headers.get("range"),
      ifMatch: req.headers.get("if-match"),
      status: res.status,
    });
    return res;
  };
}

/** A BF16 model of about `mb` MB in matrices of 512x1024, from a fixed seed. */
function model(mb: number): Uint8Array {
  const rng = new Rng(3), tensors: FixtureTensor[] = [];
  for (let i = 0; i * 1 << 20 < mb * 1e6; i++) {
    tensors.push({
      name: `m.${i}`,
      dtype: "BF16",
      shape: [512, 1024],
      data: dtypeData("BF16", 512 * 1024, rng),
    });
  }
  return buildSafetensors(tensors, { note: "http_source" });
}

Deno.test("http source: opens in one round trip, ranges carry If-Match, a replaced file is refused", () =>
  withTempDir(async (dir) => {
    const src = `${dir}/m.safetensors`, other = `${dir}/m2.safetensors`;
    const bytes = model(3);
    await Deno.writeFile(src, bytes);
    bytes[bytes.length - 1] ^= 1; // the same size, another file
    await Deno.writeFile(other, bytes);
    await packModel(`${dir}/models`, "t/m", src);
    await packModel(`${dir}/models`, "t/m2", other);
    const hub = await startHub(`${dir}/models`);
    try {
      const url = `${hub.base}/v1/models/t/m/container`;
      const log: Sent[] = [];
      // After `replaced`, the URL serves the other container, as after a new commit on the branch.
      let replaced = false;
      const fetchFn: Fetch = (input, init) => {
        const req = new Request(input, init);
        return recording(log)(
          replaced ? new Request(req.url.replace("/t/m/", "/t/m2/"), req) : req,
        );
      };
      const c = await openRemoteContainer(fetchFn, url, { backends: nativeBackends() });
      // The head, the original header and the index came with the two opening requests.
      assert.deepEqual(log.map((s) => s.range).sort(), ["bytes=-262144", "bytes=0-65535"]);
      assert.ok(log.every((s) => s.status === 206 && s.ifMatch === null));
      assert.equal(c.source.requests, 2);
      const [offset, stored] = losslessOf(c.index.tensors[1]).chunks[0];
      await c.source.readAt(offset, stored);
      assert.equal(log.length, 3);
      assert.equal(log[2].ifMatch, c.source.etag);
      replaced = true;
      await assert.rejects(
        c.source.readAt(offset, stored),
        (e) => e instanceof ClientError && e.kind === "manifest_mismatch",
      );
      // 412 where the server evaluates If-Match on GET; else the changed entity tag tells.
      assert.ok([206, 412].includes(log.at(-1)!.status));
    } finally {
      await hub.close();
    }
  }));

Deno.test("http source: a whole model costs at most ceil(container / 4 MiB) + 3 requests", () =>
  withTempDir(async (dir) => {
    const src = `${dir}/m.safetensors`;
    const bytes = model(24);
    await Deno.writeFile(src, bytes);
    await packModel(`${dir}/models`, "t/big", src);
    const hub = await startHub(`${dir}/models`);
    try {
      const log: Sent[] = [];
      const c = await openRemoteContainer(
        recording(log),
        `${hub.base}/v1/models/t/big/container`,
        { backends: nativeBackends() },
      );
      const parts: Uint8Array[] = [];
      const pieces = originalPieces(c, await readOriginalHeader(c));
      for await (const p of assemble(c, planBlocks(pieces))) parts.push(p);
      assert.equal(sha256(concat(parts)), sha256(bytes));
      const bound = Math.ceil(c.source.size / HTTP_HINTS.spanBytes) + 3;
      assert.ok(log.length <= bound, `${log.length} requests for ${c.source.size} bytes`);
      // The same through pull, which also asks for the manifest.
      const pulled: Sent[] = [];
      await pullFile({
        url: `${hub.base}/t/big`,
        out: `${dir}/out.safetensors`,
        transport: "compressed",
        fetch: recording(pulled),
      });
      assert.equal(sha256(await Deno.readFile(`${dir}/out.safetensors`)), sha256(bytes));
      const container = pulled.filter((s) => s.range !== null);
      assert.ok(container.length <= bound, `${container.length} container requests`);
    } finally {
      await hub.close();
    }
  }));

Deno.test("http source: a range outside the source is a RangeError, before any request", async () => {
  let requests = 0;
  const body = new Uint8Array(1000);
  const fetchFn: Fetch = (input, init) => {
    requests++;
    const range = new Request(input, init).headers.get("range")!;
    const [a, b] = range === "bytes=0-65535" || range === "bytes=-262144" ? [0, 999] : [0, 0];
    return Promise.resolve(
      new Response(body.slice(a, b + 1), {
        status: 206,
        headers: { "Content-Range": `bytes ${a}-${b}/1000`, ETag: '"x"' },
      }),
    );
  };
  const s = await openHttpSource(fetchFn, "http://x.test/c");
  assert.equal(s.size, 1000);
  await assert.rejects(s.readAt(990, 20), RangeError);
  assert.equal((await s.readAt(10, 20)).length, 20);
  assert.equal(requests, 2, "reads inside the opening bytes need no request");
});
