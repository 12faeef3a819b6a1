/**
 * The HTTP byte source against the real server: one round trip to open (prefix and suffix at
 * once), `If-Match` on every later range, a container replaced mid-read refused, and a whole model
 * pulled compressed in at most ⌈container bytes / 4 MiB⌉ + 3 requests.
 */
import assert from "node:assert/strict";
import { ClientError } from "../../src/client/errors.ts";
import type { Fetch } from "../../src/client/http.ts";
import {
  HTTP_HINTS,
  openHttpSource,
  PREFIX_BYTES,
  TAIL_BYTES,
} from "../../src/client/http_source.ts";
import { linkPacer } from "../../src/client/link_pacer.ts";
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

/**
 * Runs `fn` against the real server holding `model(mb)` packed as `id`, with a scratch folder;
 * the server is closed afterwards.
 */
function withServedModel(
  mb: number,
  id: string,
  fn: (hub: { base: string }, bytes: Uint8Array, dir: string) => Promise<void>,
): Promise<void> {
  return withTempDir(async (dir) => {
    const src = `${dir}/m.safetensors`;
    const bytes = model(mb);
    await Deno.writeFile(src, bytes);
    await packModel(`${dir}/models`, id, src);
    const hub = await startHub(`${dir}/models`);
    try {
      await fn(hub, bytes, dir);
    } finally {
      await hub.close();
    }
  });
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
  withServedModel(24, "t/big", async (hub, bytes, dir) => {
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

Deno.test("http source: streamed, a whole model in order is the two opening requests", () =>
  withServedModel(12, "t/s", async (hub, bytes) => {
    const log: Sent[] = [];
    const url = `${hub.base}/v1/models/t/s/container`;
    let counted = 0;
    const c = await openRemoteContainer(recording(log), url, {
      backends: nativeBackends(),
      stream: true,
      onBytes: (n) => counted += n,
    });
    assert.deepEqual(log.map((s) => s.range).sort(), ["bytes=-262144", "bytes=0-"]);
    const parts: Uint8Array[] = [];
    const pieces = originalPieces(c, await readOriginalHeader(c));
    for await (const p of assemble(c, planBlocks(pieces))) parts.push(p);
    assert.equal(sha256(concat(parts)), sha256(bytes));
    assert.equal(log.length, 2, "every chunk came with the opening body");
    assert.equal(c.source.requests, 2);
    // The stream stops where the cached tail starts: no byte comes twice.
    assert.ok(counted <= c.source.size, `${counted} body bytes for ${c.source.size}`);
    c.source.close();
  }));

Deno.test("http source: streamed, a read behind the stream or far ahead is a Range request, the stream keeps what it has", () =>
  withServedModel(12, "t/s", async (hub) => {
    const log: Sent[] = [];
    const url = `${hub.base}/v1/models/t/s/container`;
    // Bytes of the opening stream's body that arrived, as the client's fetch sees them.
    let arrived = 0;
    const counting: Fetch = async (input, init) => {
      const res = await recording(log)(input, init);
      if (new Request(input, init).headers.get("range") !== "bytes=0-") return res;
      const body = res.body!.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, out) {
            arrived += chunk.length;
            out.enqueue(chunk);
          },
        }),
      );
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const c = await openRemoteContainer(counting, url, {
      backends: nativeBackends(),
      stream: true,
    });
    const plain = await openRemoteContainer(fetch, url, { backends: nativeBackends() });
    const chunk = (k: number) => losslessOf(c.index.tensors[k]).chunks[0];
    const same = async (offset: number, length: number) =>
      assert.deepEqual(
        await c.source.readAt(offset, length),
        await plain.source.readAt(offset, length),
      );
    // In order from the stream, across the end of the cached opening bytes: no request.
    const [o1, s1] = chunk(1);
    await same(1000, o1 + s1 - 1000);
    assert.equal(log.length, 2);
    // Behind the stream: a Range request, with If-Match; the stream goes on.
    await same(o1, s1);
    assert.equal(log.length, 3);
    assert.equal(log[2].range, `bytes=${o1}-${o1 + s1 - 1}`);
    assert.equal(log[2].ifMatch, c.source.etag);
    const [o2, s2] = losslessOf(c.index.tensors[1]).chunks[1];
    assert.ok(o2 >= o1 + s1 && o2 - (o1 + s1) < 4096, "the next chunk, after alignment padding");
    await same(o2, s2);
    assert.equal(log.length, 3, "the next chunk in order still comes from the stream");
    // Far ahead (beyond a gap worth skipping): a Range request. The stream stops where it has
    // got to (here, at least 1000 bytes past the last read) and serves the reads that come
    // back to the bytes it received (a load whose first layer lies deep in the container); a
    // read past them is a Range request.
    const [o6, s6] = chunk(6);
    while (arrived < o2 + s2 + 1000) await new Promise((r) => setTimeout(r, 5));
    await same(o6, s6);
    assert.equal(log.length, 4);
    await same(o2 + s2, 1000);
    assert.equal(log.length, 4, "back in order after the jump: from the stream's bytes");
    const past = o2 + s2 + 1000 + HTTP_HINTS.spanBytes + (1 << 20);
    assert.ok(past + 100 < c.source.size - TAIL_BYTES, `container of ${c.source.size} bytes`);
    await same(past, 100);
    assert.equal(log.length, 5, "past what it received: a Range request");
    c.source.close();
    plain.source.close();
    await assert.rejects(c.source.readAt(o6 + s6, 10), /closed/);
  }));

/**
 * An in-memory server of `bytes` whose link the pacer's clock `t` sees as slow with a short round
 * trip: every answer comes 1 ms after its request, and every 16 KiB of body 100 ms later.
 */
function slowLink(bytes: Uint8Array, clock: { t: number }): Fetch {
  return (input, init) => {
    const req = new Request(input, init);
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.get("range") ?? "")!;
    const first = m[1] === "" ? bytes.length - Number(m[2]) : Number(m[1]);
    const last = m[1] === "" || m[2] === "" ? bytes.length - 1 : Number(m[2]);
    let at = first;
    const body = new ReadableStream<Uint8Array>({
      pull(out) {
        if (at > last) return out.close();
        clock.t += 100;
        const end = Math.min(last + 1, at + (16 << 10));
        out.enqueue(bytes.slice(at, end));
        at = end;
      },
    }, { highWaterMark: 0 });
    clock.t += 1;
    return Promise.resolve(
      new Response(body, {
        status: 206,
        headers: { "content-range": `bytes ${first}-${last}/${bytes.length}`, etag: '"slow"' },
      }),
    );
  };
}

/** Whether `p` settles within `turns` turns of an event loop that has nothing else to do. */
async function settles(p: Promise<unknown>, turns = 50): Promise<boolean> {
  let settled = false;
  p.then(() => settled = true, () => settled = true);
  for (let k = 0; k < turns && !settled; k++) await new Promise((r) => setTimeout(r, 0));
  return settled;
}

Deno.test("http source: opened on a pacer that measured a slow link with a short round trip, the opening is not left waiting", async () => {
  // A sharded model's containers open on one pacer. Once the link looked slower than the
  // prefix per round trip, a second opening's prefix went alone and its suffix waited for the
  // prefix to progress; the prefix's body is read only once both have answered: a hang.
  const bytes = new Uint8Array(1 << 20).map((_, i) => (i * 31) >> 3);
  const clock = { t: 0 };
  const pacer = linkPacer({ now: () => clock.t });
  const fetchFn = slowLink(bytes, clock);
  const first = await openHttpSource(fetchFn, "http://slow.test/a", { pacer });
  const { rtt, bandwidth } = pacer.estimates();
  assert.ok(PREFIX_BYTES / bandwidth > rtt, `measured ${bandwidth} B/s, a round trip of ${rtt} s`);
  for (const stream of [false, true]) {
    const opening = openHttpSource(fetchFn, "http://slow.test/b", { pacer, stream });
    assert.ok(await settles(opening), `stream ${stream}: the opening never completed`);
    const second = await opening;
    assert.deepEqual(await second.readAt(300_000, 1000), bytes.subarray(300_000, 301_000));
    second.close();
  }
  assert.deepEqual(await first.readAt(500_000, 10), bytes.subarray(500_000, 500_010));
});
