/**
 * Client behaviour against an in-memory fake of the server's read routes: order, progress,
 * transport choice, request coalescing, aborts and every way a response can be wrong.
 * @module
 */
import { ContainerError } from "../../src/container/errors.ts";
import assert from "node:assert/strict";
import { ClientError } from "../../src/client/errors.ts";
import {
  AUTO_COMPRESSED_FROM_SAVED,
  AUTO_DECODED_FROM,
  autoPicksDecoded,
  type LoadedTensor,
  loadModel,
  type LoadOptions,
} from "../../src/client/load_model.ts";
import { linkPacer } from "../../src/client/link_pacer.ts";
import type { LoadProgress } from "../../src/client/progress_meter.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { packBytes, sourceTensorBytes, withTempDir } from "../helpers/container.ts";
import { fakeHub, type FakeModel, fakeModel, inMemoryFetch } from "./fake_hub.ts";

const FIXTURE = new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url);
const URL_ = "http://fake.test/v1/models/demo/tiny";

/** The fixture packed with small chunks, so that tensors have many tiles, some narrower. */
async function tinyModel(): Promise<FakeModel> {
  const src = await Deno.readFile(FIXTURE);
  const { bytes } = await withTempDir((dir) =>
    packBytes(src, dir, { mode: "fast", chunkBytes: 1024 })
  );
  return await fakeModel(bytes);
}

const MODEL = await tinyModel();

interface Recorded {
  requests: { method: string; url: string; range: string | null }[];
  events: string[];
}

function recordingFetch(
  handler: (req: Request) => Response | Promise<Response>,
  rec: Recorded,
) {
  return inMemoryFetch((req) => {
    rec.requests.push({ method: req.method, url: req.url, range: req.headers.get("range") });
    rec.events.push(`fetch ${new URL(req.url).pathname}`);
    return handler(req);
  });
}

async function collect(
  options: LoadOptions,
  rec?: Recorded,
  url = URL_,
): Promise<LoadedTensor[]> {
  const out: LoadedTensor[] = [];
  for await (const t of loadModel(url, options)) {
    rec?.events.push(`yield ${t.name}`);
    out.push(t);
  }
  return out;
}

function expectedOrder(m: FakeModel): string[] {
  return m.index.layers.flatMap((l) =>
    m.index.tensors.filter((t) => t.layer === l).map((t) => t.name)
  );
}

for (const transport of ["decoded", "compressed"] as const) {
  Deno.test(`loadModel ${transport}: every tensor, byte-identical, in load order`, async () => {
    const rec: Recorded = { requests: [], events: [] };
    const progress: LoadProgress[] = [];
    const fetch = recordingFetch(fakeHub(new Map([["demo/tiny", MODEL]])), rec);
    const got = await collect({ fetch, transport, onProgress: (p) => progress.push(p) });
    assert.deepEqual(got.map((t) => t.name), expectedOrder(MODEL));
    for (const t of got) {
      const entry = MODEL.index.tensors.find((e) => e.name === t.name)!;
      assert.deepEqual(t.bytes, sourceTensorBytes(MODEL.original, MODEL.index, t.name));
      assert.equal(t.dtype, entry.dtype);
      assert.deepEqual(t.shape, entry.shape);
      assert.equal(t.layer, entry.layer);
    }
    const last = progress[progress.length - 1];
    assert.equal(last.bytesDone, last.bytesTotal);
    assert.equal(last.tensorsDone, got.length);
    assert.equal(last.tensorsTotal, got.length);
    assert.equal(last.transport, transport);
    assert.equal(last.etaSeconds, 0);
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i].bytesDone >= progress[i - 1].bytesDone);
      assert.ok(progress[i].tensorsDone >= progress[i - 1].tensorsDone);
    }
    if (transport === "compressed") {
      const ranges = rec.requests.filter((r) => r.url.includes("/container"));
      const chunks = MODEL.index.tensors.reduce((n, t) => n + losslessOf(t).chunks.length, 0);
      // Head, index, then one coalesced request per tensor rather than one per chunk.
      assert.ok(ranges.every((r) => r.range !== null));
      assert.ok(ranges.length <= 2 + MODEL.index.tensors.length, `${ranges.length} requests`);
      assert.ok(chunks > MODEL.index.tensors.length * 2);
      assert.ok(last.bytesReceived < last.bytesDone, "compressed moves fewer bytes");
      assert.ok(!rec.requests.some((r) => r.url.includes("/tensors/")));
    } else {
      assert.ok(!rec.requests.some((r) => r.url.includes("/container")));
    }
  });
}

Deno.test("loadModel auto: compressed when the container is offered on a slow link, else decoded", async () => {
  const hub = fakeHub(new Map([["demo/tiny", MODEL]]));
  const rec: Recorded = { requests: [], events: [] };
  let seen: LoadProgress | undefined;
  // In memory every link is fast, and auto would take decoded: the pacer says 10 KB/s, a link on
  // which this small model's saved bytes pay (test/client/load_model_server_test.ts measures both
  // sides of the thresholds).
  const real = linkPacer();
  const pacer = { ...real, estimates: () => ({ rtt: 0.04, bandwidth: 1e4 }) };
  await collect({
    fetch: recordingFetch(hub, rec),
    onProgress: (p) => seen = p,
    http: { pacer },
  });
  assert.equal(seen?.transport, "compressed");
  // The manifest and the container are asked for at once: nothing waits for a probe.
  assert.ok(rec.requests.slice(0, 3).some((r) => r.url.includes("/container")));
  assert.ok(!rec.requests.some((r) => r.method === "HEAD"));

  const noContainer = (req: Request) =>
    new URL(req.url).pathname.endsWith("/container")
      ? Response.json({ error: "no container" }, { status: 404 })
      : hub(req);
  await collect({ fetch: inMemoryFetch(noContainer), onProgress: (p) => seen = p });
  assert.equal(seen?.transport, "decoded");
});

Deno.test("loadModel: yields layer 0 before the last layer is requested", async () => {
  const rec: Recorded = { requests: [], events: [] };
  const fetch = recordingFetch(fakeHub(new Map([["demo/tiny", MODEL]])), rec);
  const order = expectedOrder(MODEL);
  const firstLayer = MODEL.index.layers[0];
  const lastLayer = MODEL.index.layers[MODEL.index.layers.length - 1];
  await collect({ fetch, transport: "decoded", concurrency: 2 }, rec);
  const lastFetch = rec.events.findIndex((e) =>
    MODEL.index.tensors.some((t) =>
      t.layer === lastLayer && e === `fetch /v1/models/demo/tiny/tensors/${t.name}`
    )
  );
  const firstYield = rec.events.indexOf(`yield ${order[0]}`);
  assert.ok(MODEL.index.tensors.find((t) => t.name === order[0])!.layer === firstLayer);
  assert.ok(firstYield >= 0 && lastFetch >= 0);
  assert.ok(firstYield < lastFetch, rec.events.join("\n"));
});

Deno.test("loadModel compressed: a flipped container byte is a chunk_corrupt error", async () => {
  const victim = MODEL.index.tensors[3];
  const [offset, stored] = losslessOf(victim).chunks[0];
  const bad: FakeModel = { ...MODEL, container: MODEL.container.slice() };
  bad.container[offset + (stored >> 1)] ^= 0x10;
  const fetch = inMemoryFetch(fakeHub(new Map([["demo/tiny", bad]])));
  const yielded: LoadedTensor[] = [];
  await assert.rejects(
    async () => {
      for await (const t of loadModel(URL_, { fetch, transport: "compressed" })) yielded.push(t);
    },
    (e) =>
      e instanceof ContainerError && e.kind === "chunk_corrupt" && e.message.includes(victim.name),
  );
  assert.ok(!yielded.some((t) => t.name === victim.name));
  for (const t of yielded) {
    assert.deepEqual(t.bytes, sourceTensorBytes(MODEL.original, MODEL.index, t.name));
  }
});

Deno.test("loadModel decoded: wrong tensor bytes are a digest_mismatch error", async () => {
  const hub = fakeHub(new Map([["demo/tiny", MODEL]]));
  const victim = MODEL.index.tensors[2].name;
  const lying = async (req: Request) => {
    const res = hub(req);
    if (!req.url.endsWith(`/tensors/${encodeURIComponent(victim)}?revision=main`)) return res;
    const bytes = new Uint8Array(await res.arrayBuffer());
    bytes[0] ^= 1;
    return new Response(bytes, { status: 200 });
  };
  await assert.rejects(
    collect({ fetch: inMemoryFetch(lying), transport: "decoded" }),
    (e) =>
      e instanceof ContainerError && e.kind === "digest_mismatch" && e.message.includes(victim),
  );
});

Deno.test("loadModel: truncated bodies, bad JSON and HTTP errors are reported by kind", async () => {
  const hub = fakeHub(new Map([["demo/tiny", MODEL]]));
  const short = async (req: Request) => {
    const res = hub(req);
    if (!req.url.includes("/tensors/")) return res;
    return new Response((await res.arrayBuffer()).slice(1), { status: 200 });
  };
  await assert.rejects(
    collect({ fetch: inMemoryFetch(short), transport: "decoded" }),
    (e) => e instanceof ClientError && e.kind === "bad_response",
  );
  // A server that ignores Range sends the whole container, which is then read from memory.
  const ignoresRange = (req: Request) =>
    req.url.includes("/container") && req.method === "GET"
      ? new Response(MODEL.container.slice(), { status: 200 })
      : hub(req);
  assert.equal(
    (await collect({ fetch: inMemoryFetch(ignoresRange), transport: "compressed" })).length,
    MODEL.index.tensors.length,
  );
  const wrongRange = (req: Request) =>
    req.url.includes("/container") && req.method === "GET"
      ? new Response(MODEL.container.slice(0, 10), {
        status: 206,
        headers: { "Content-Range": `bytes 5-14/${MODEL.container.length}` },
      })
      : hub(req);
  await assert.rejects(
    collect({ fetch: inMemoryFetch(wrongRange), transport: "compressed" }),
    (e) => e instanceof ClientError && e.kind === "bad_response",
  );
  const badManifest = (req: Request) =>
    req.url.includes("/manifest") ? Response.json({ id: 1 }) : hub(req);
  await assert.rejects(
    collect({ fetch: inMemoryFetch(badManifest), transport: "decoded" }),
    (e) => e instanceof ClientError && e.kind === "bad_response" && e.message.includes("manifest"),
  );
  await assert.rejects(
    collect({ fetch: inMemoryFetch(hub) }, undefined, "http://fake.test/v1/models/demo/nope"),
    (e) => e instanceof ClientError && e.kind === "http" && e.status === 404,
  );
  assert.throws(() => loadModel("ftp://x/y"), ClientError);
  assert.throws(() => loadModel(URL_, { concurrency: 0 }), RangeError);
});

Deno.test("loadModel compressed: the container alone is enough; the manifest is not fetched", async () => {
  const hub = fakeHub(new Map([["demo/tiny", MODEL]]));
  const noManifest = (req: Request) =>
    req.url.includes("/manifest") ? Response.json({ error: "down" }, { status: 500 }) : hub(req);
  const got = await collect({ fetch: inMemoryFetch(noManifest), transport: "compressed" });
  assert.deepEqual(got.map((t) => t.name), expectedOrder(MODEL));
  for (const t of got) {
    assert.deepEqual(t.bytes, sourceTensorBytes(MODEL.original, MODEL.index, t.name));
  }
});

Deno.test("loadModel: an abort stops the load with the signal's reason", async () => {
  const hub = fakeHub(new Map([["demo/tiny", MODEL]]));
  for (const transport of ["decoded", "compressed"] as const) {
    const controller = new AbortController();
    const reason = new Error("stop");
    let n = 0;
    await assert.rejects(
      async () => {
        for await (
          const _ of loadModel(URL_, {
            fetch: inMemoryFetch(hub),
            transport,
            signal: controller.signal,
          })
        ) {
          if (++n === 3) controller.abort(reason);
        }
      },
      (e) => e === reason,
    );
    assert.equal(n, 3);
  }
});

Deno.test("loadModel: breaking out of the loop stops fetching", async () => {
  const rec: Recorded = { requests: [], events: [] };
  const fetch = recordingFetch(fakeHub(new Map([["demo/tiny", MODEL]])), rec);
  for await (const _ of loadModel(URL_, { fetch, transport: "decoded", concurrency: 2 })) break;
  const before = rec.requests.length;
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(rec.requests.length, before);
  assert.ok(before <= 1 + 3, `${before} requests`);
});

Deno.test("auto: a fast link takes the decoded transport unless the containers save much", () => {
  const fast = AUTO_DECODED_FROM * 2;
  assert.equal(autoPicksDecoded(fast, 1e6), true);
  assert.equal(autoPicksDecoded(fast, AUTO_COMPRESSED_FROM_SAVED - 1), true);
  // The 338 MB many-tensor model saves 107 MB: compressed, on loopback as at 1 Gbit/s.
  assert.equal(autoPicksDecoded(fast, AUTO_COMPRESSED_FROM_SAVED), false);
  assert.equal(autoPicksDecoded(fast, 107e6), false);
  // A slow link: compressed while the saving pays; nothing measured: compressed.
  assert.equal(autoPicksDecoded(1e6, 1e6), false);
  assert.equal(autoPicksDecoded(1e7, 5e4), true);
  assert.equal(autoPicksDecoded(0, 1e6), false);
});
