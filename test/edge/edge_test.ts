/**
 * Edge mode (`--origin`) against a real origin server, through a proxy that counts and misbehaves
 * (`origin_proxy.ts`): no repeat fetches (issue 11 acceptance 1), restarts and outages (2), faults
 * (3: the origin killed mid-span, a flipped byte, a slow origin, 32 clients on one cold layer),
 * revalidation, eviction within the budget, and an edge of an edge.
 */
import assert from "node:assert/strict";
import { packFile } from "../../src/pack/write.ts";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { defaultConfig, type ServerConfig } from "../../src/server/config.ts";
import { type RunningServer, startServer } from "../../src/server/server.ts";
import { loadModel } from "../../src/client/load_model.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { type OriginProxy, startOriginProxy } from "../helpers/origin_proxy.ts";
import { spawnServer } from "../helpers/server_process.ts";
import { installVariants } from "../helpers/variants.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { openContainer } from "../../src/container/open.ts";
import { bufferSource } from "../../src/container/source.ts";

const LAYERS = 4;

/** Bytes that do not compress, so each 256 KiB tile is a chunk of its own on the wire. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >>> 17, x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

/** A model of an embedding, LAYERS blocks of two 256 KiB matrices and a norm: about 2.3 MB. */
function edgeModel(seed = 1): Uint8Array {
  const t = (name: string, k: number) => ({
    name,
    dtype: "BF16" as const,
    shape: [256, 512],
    data: noise(256 * 512 * 2, seed * 1000 + k),
  });
  const tensors = [t("model.embed_tokens.weight", 0)];
  for (let l = 0; l < LAYERS; l++) {
    tensors.push(t(`model.layers.${l}.mlp.up_proj.weight`, 10 + 2 * l));
    tensors.push(t(`model.layers.${l}.mlp.down_proj.weight`, 11 + 2 * l));
  }
  tensors.push({
    name: "model.norm.weight",
    dtype: "BF16" as const,
    shape: [512],
    data: noise(1024, seed),
  });
  return buildSafetensors(tensors);
}

/** Lays `bytes` out as `acme/m@main` for a store opened on `dir`. */
async function install(
  dir: string,
  bytes: Uint8Array,
  id = "acme/m",
  mode: "fast" | "best" = "fast",
): Promise<void> {
  const rev = `${dir}/${id}/main`;
  await Deno.mkdir(rev, { recursive: true });
  const src = `${dir}/src-${crypto.randomUUID()}.safetensors`;
  await Deno.writeFile(src, bytes);
  await packFile(src, `${rev}/model.tsr`, { mode });
  await Deno.remove(src);
}

function serverConfig(overrides: Partial<ServerConfig>): ServerConfig {
  return defaultConfig({
    port: 0,
    host: "127.0.0.1",
    workers: 0,
    timeoutMs: 10_000,
    quiet: true,
    demo: false,
    packInline: true,
    ...overrides,
  });
}

interface World {
  readonly origin: RunningServer;
  readonly proxy: OriginProxy;
  readonly model: Uint8Array;
  readonly cacheDir: string;
  startEdge(overrides?: Partial<ServerConfig>): Promise<RunningServer>;
}

/** An origin holding the model, a proxy in front of it, and edges started on demand. */
async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tessera_origin_" });
  const cacheDir = await Deno.makeTempDir({ prefix: "tessera_edge_" });
  const model = edgeModel();
  await install(dir, model);
  const origin = await startServer(serverConfig({ modelsDir: dir, token: "tok" }), () => {});
  const proxy = await startOriginProxy(origin.url);
  const edges: RunningServer[] = [];
  try {
    await fn({
      origin,
      proxy,
      model,
      cacheDir,
      async startEdge(overrides = {}) {
        const e = await startServer(
          serverConfig({ origin: proxy.url, cacheDir, originTimeoutMs: 1500, ...overrides }),
          () => {},
        );
        edges.push(e);
        return e;
      },
    });
  } finally {
    for (const e of edges) await e.close();
    await proxy.close();
    await origin.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(cacheDir, { recursive: true });
  }
}

async function get(url: string, headers: Record<string, string> = {}) {
  const t0 = performance.now();
  const r = await fetch(url, { headers });
  const body = new Uint8Array(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, body, ms: performance.now() - t0 };
}

/** The bytes of tensor `name` in the original file. */
function tensorBytes(file: Uint8Array, name: string): Uint8Array {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)));
  const [a, b] = header[name].data_offsets;
  return file.subarray(8 + n + a, 8 + n + b);
}

/** Asserts that no two blob range requests fetched the same bytes. */
function assertNoRepeat(proxy: OriginProxy) {
  const seen: [string, number, number][] = [];
  for (const e of proxy.blobRequests()) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(e.range ?? "");
    if (!m) continue;
    const [a, b] = [Number(m[1]), Number(m[2]) + 1];
    for (const [p, x, y] of seen) {
      assert.ok(p !== e.path || b <= x || a >= y, `bytes ${a}-${b} were fetched twice`);
    }
    seen.push([e.path, a, b]);
  }
}

/** Waits until the origin has been sent no request for `quietMs` (prefetches ended). */
async function originQuiet(proxy: OriginProxy, quietMs = 500, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  for (let n = -1; proxy.log.length !== n;) {
    assert.ok(Date.now() < end, "requests to the origin never stopped");
    n = proxy.log.length;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}

Deno.test("edge: a tile read twice through a cold edge reaches the origin once", async () => {
  await withWorld(async ({ proxy, model, startEdge }) => {
    const edge = await startEdge();
    const name = "model.layers.2.mlp.up_proj.weight";
    const url = `${edge.url}/v1/models/acme/m/tensors/${name}?rows=0:16&cols=0:512`;
    const first = await get(url);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, tensorBytes(model, name).subarray(0, 16 * 512 * 2));
    // The prefetches the first read started (layers 0 and 3) end before the count is taken.
    await originQuiet(proxy);
    const before = proxy.blobRequests().length, logged = proxy.log.length;
    const again = await get(url);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    assert.equal(proxy.blobRequests().length, before, "the second read made no origin request");
    // Past half the refs' life (a loaded machine) they may be revalidated in the background:
    // 304s (or still under way), no body.
    const later = proxy.log.slice(logged);
    assert.ok(
      later.every((e) => e.path.startsWith("/v1/store/refs/") && [0, 304].includes(e.status)),
      JSON.stringify(later),
    );
    assertNoRepeat(proxy);
    // The second read was a RAM hit (decoded blocks); the container's last bytes, which the open
    // fetched, come from the disk tier.
    const blobRequests = proxy.blobRequests().length;
    const tail = await get(`${edge.url}/v1/models/acme/m/container`, { Range: "bytes=-100" });
    assert.equal(tail.status, 206);
    assert.equal(proxy.blobRequests().length, blobRequests, "the tail came from the disk tier");
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    assert.match(metrics, /tessera_cache_hits_total [1-9]/);
    assert.match(metrics, /tessera_edge_tier_hits_total\{tier="disk"\} [1-9]/);
  });
});

Deno.test("edge: a whole model loaded twice: 0 origin bytes the second time", async () => {
  await withWorld(async ({ proxy, model, startEdge }) => {
    const edge = await startEdge();
    const load = async () => {
      const got = new Map<string, Uint8Array>();
      for await (
        const t of loadModel(`${edge.url}/v1/models/acme/m`, { transport: "compressed" })
      ) {
        got.set(t.name, t.bytes);
      }
      const file = await get(`${edge.url}/acme/m/resolve/main/model.safetensors`);
      assert.equal(file.status, 200);
      assert.equal(sha256Hex(file.body), sha256Hex(model));
      return got;
    };
    const first = await load();
    assert.equal(first.size, 2 + 2 * LAYERS);
    // The first load's last segments may still be on their way to the disk tier (a loaded
    // machine); the count starts once the origin has had no request for a while.
    await originQuiet(proxy);
    assertNoRepeat(proxy);
    proxy.log.length = 0;
    // Past the refs' lifetime: they are revalidated (304, no body), nothing else is asked.
    await new Promise((r) => setTimeout(r, 2100));
    const second = await load();
    assert.deepEqual([...second.keys()], [...first.keys()]);
    assert.equal(proxy.bytes(), 0, `origin bytes the second time: ${JSON.stringify(proxy.log)}`);
    assert.ok(proxy.log.every((e) => e.status === 304), "only revalidations");
    assert.ok(proxy.log.length >= 1, "the refs were revalidated");
  });
});

Deno.test("edge: a first layer through a cold edge costs two origin requests, both sent at the open", async () => {
  await withWorld(async ({ proxy, model, startEdge }) => {
    const edge = await startEdge();
    const before = proxy.blobRequests().length;
    let requestsAtFirstLayer = -1;
    for await (
      const t of loadModel(`${edge.url}/v1/models/acme/m`, { transport: "compressed" })
    ) {
      // The embedding is the first layer, one tensor.
      assert.equal(t.name, "model.embed_tokens.weight");
      assert.deepEqual(t.bytes, tensorBytes(model, t.name));
      requestsAtFirstLayer = proxy.blobRequests().length - before;
      break;
    }
    // The open asked for everything from byte 0 (the first layer streams on from the head) and for
    // the last 512 KiB (the index, and whole the segments the client's own 256 KiB tail touches);
    // neither the first layer nor the client's tail needed a request of its own.
    assert.deepEqual(
      proxy.blobRequests().slice(before, before + requestsAtFirstLayer).map((e) => e.range).sort(),
      ["bytes=-524288", "bytes=0-"],
    );
    assertNoRepeat(proxy);
  });
});

Deno.test("edge: a byte flipped in the opening stream is never served: that segment is fetched again", async () => {
  await withWorld(async ({ proxy, model, startEdge }) => {
    const edge = await startEdge();
    proxy.faults.flipStreamAt = 100_000; // inside the embedding's chunk, the first layer
    const before = proxy.blobRequests().length;
    const got = new Map<string, Uint8Array>();
    for await (
      const t of loadModel(`${edge.url}/v1/models/acme/m`, { transport: "compressed" })
    ) got.set(t.name, t.bytes);
    assert.deepEqual(
      got.get("model.embed_tokens.weight"),
      tensorBytes(model, "model.embed_tokens.weight"),
    );
    // The bad segment alone was asked for again, by an exact range.
    const again = proxy.blobRequests().slice(before).filter((e) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(e.range ?? "");
      return m !== null && Number(m[1]) <= 100_000 && Number(m[2]) >= 100_000;
    });
    assert.equal(again.length, 1, JSON.stringify(proxy.blobRequests().slice(before)));
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    assert.match(metrics, /tessera_edge_verify_failures_total [1-9]/);
    // What was cached is right: the whole file through the edge is the original.
    const whole = await get(`${edge.url}/acme/m/resolve/main/model.safetensors`);
    assert.deepEqual(whole.body, model);
  });
});

Deno.test("edge: after a restart the disk tier serves with the origin stopped; uncached gets 503 within 2 s", async () => {
  await withWorld(async ({ proxy, model, startEdge }) => {
    let edge = await startEdge();
    // Layer 0 read (layer 1 prefetched), and the whole file's first MiB.
    const l0 = await get(`${edge.url}/v1/models/acme/m/layers/model.layers.0`);
    assert.equal(l0.status, 200);
    const head = await get(`${edge.url}/acme/m/resolve/main/model.safetensors`, {
      Range: "bytes=0-99999",
    });
    assert.equal(head.status, 206);
    await edge.close();
    await proxy.close(); // the origin is unreachable from now on
    edge = await startEdge();
    const again = await get(`${edge.url}/v1/models/acme/m/layers/model.layers.0`);
    assert.equal(again.status, 200, new TextDecoder().decode(again.body));
    assert.deepEqual(again.body, l0.body);
    const h2 = await get(`${edge.url}/acme/m/resolve/main/model.safetensors`, {
      Range: "bytes=0-99999",
    });
    assert.deepEqual(h2.body, model.subarray(0, 100000));
    assert.equal((await get(`${edge.url}/v1/models/acme/m/manifest`)).status, 200);
    // Not cached (the open's last 512 KiB hold layer 3's down_proj in this small model): 503 with
    // Retry-After (the refused connection fails at once; tests do not assert on time).
    const miss = await get(
      `${edge.url}/v1/models/acme/m/tensors/model.layers.2.mlp.up_proj.weight`,
    );
    assert.equal(miss.status, 503, new TextDecoder().decode(miss.body));
    assert.ok(miss.headers.get("retry-after"), "Retry-After is set");
    assert.equal(JSON.parse(new TextDecoder().decode(miss.body)).error, "origin_unavailable");
  });
});

Deno.test("edge: bytes that fail their checksum are never cached or served (502 names them)", async () => {
  await withWorld(async ({ proxy, model, startEdge }) => {
    const edge = await startEdge();
    const name = "model.layers.1.mlp.down_proj.weight";
    // Open the container first, so the flips hit the tensor's own spans.
    assert.equal((await get(`${edge.url}/v1/models/acme/m/manifest`)).status, 200);
    // Every span corrupted: the edge fetches once more, then gives up naming tensor and chunk.
    proxy.faults.flip = 1000;
    const bad = await get(`${edge.url}/v1/models/acme/m/tensors/${name}`);
    assert.equal(bad.status, 502, new TextDecoder().decode(bad.body));
    const msg = JSON.parse(new TextDecoder().decode(bad.body)).message;
    assert.match(msg, /tensor model\.layers\.1\.mlp\.down_proj\.weight/);
    assert.match(msg, /chunk \d+/);
    // Only one flipped answer: the retry gets good bytes, the response is right.
    proxy.faults.flip = 1;
    const name2 = "model.layers.3.mlp.up_proj.weight";
    const ok = await get(`${edge.url}/v1/models/acme/m/tensors/${name2}`);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, tensorBytes(model, name2));
    // Fault gone: the first tensor is right, so nothing bad was cached.
    proxy.faults.flip = 0;
    const good = await get(`${edge.url}/v1/models/acme/m/tensors/${name}`);
    assert.equal(good.status, 200);
    assert.deepEqual(good.body, tensorBytes(model, name));
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    assert.match(metrics, /tessera_edge_verify_failures_total [1-9]/);
  });
});

Deno.test("edge: a slow origin: the per-request time-out holds", async () => {
  await withWorld(async ({ proxy, startEdge }) => {
    const edge = await startEdge({ originTimeoutMs: 2000 });
    // The origin answers nothing until released: without the time-out this request never ends.
    let release!: () => void;
    proxy.faults.hold = new Promise<void>((r) => release = r);
    const r = await get(`${edge.url}/v1/models/acme/m/manifest`);
    assert.equal(r.status, 503, "answered while the origin still holds its answer");
    proxy.faults.hold = null;
    release();
    await new Promise((res) => setTimeout(res, 1100)); // the origin counts as down for 1 s
    assert.equal((await get(`${edge.url}/v1/models/acme/m/manifest`)).status, 200);
  });
});

Deno.test("edge: 32 concurrent clients on one cold layer: one origin fetch per span", async () => {
  await withWorld(async ({ proxy, model, startEdge }) => {
    const edge = await startEdge();
    const url = `${edge.url}/v1/models/acme/m/layers/model.layers.2`;
    const all = await Promise.all(Array.from({ length: 32 }, () => get(url)));
    for (const r of all) assert.equal(r.status, 200);
    for (const r of all) assert.deepEqual(r.body, all[0].body);
    const up = tensorBytes(model, "model.layers.2.mlp.up_proj.weight");
    assert.ok(all[0].body.length > up.length);
    assertNoRepeat(proxy);
    const refs = proxy.log.filter((e) => e.path.startsWith("/v1/store/refs/"));
    assert.equal(refs.length, 1, "one refs fetch for 32 clients");
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    assert.match(metrics, /tessera_edge_singleflight_joined_total [1-9]/);
  });
});

Deno.test("edge: refs revalidated (304), a publish seen within the TTL, by commit id at once", async () => {
  await withWorld(async ({ origin, proxy, startEdge }) => {
    const edge = await startEdge();
    assert.equal((await get(`${edge.url}/v1/models/acme/m/manifest`)).status, 200);
    const v2 = edgeModel(2);
    const put = await fetch(`${origin.url}/v1/models/acme/m?mode=fast`, {
      method: "PUT",
      headers: { Authorization: "Bearer tok" },
      body: v2 as Uint8Array<ArrayBuffer>,
    });
    const commit = (await put.json()).commit as string;
    const byId = await get(`${edge.url}/acme/m/resolve/${commit}/model.safetensors`);
    assert.equal(byId.status, 200, new TextDecoder().decode(byId.body).slice(0, 200));
    assert.equal(sha256Hex(byId.body), sha256Hex(v2));
    await new Promise((r) => setTimeout(r, 2100));
    const byBranch = await get(`${edge.url}/acme/m/resolve/main/model.safetensors`);
    assert.equal(sha256Hex(byBranch.body), sha256Hex(v2), "seen once the refs' TTL ran out");
    await new Promise((r) => setTimeout(r, 2100));
    proxy.log.length = 0;
    await get(`${edge.url}/v1/models/acme/m/manifest`);
    assert.deepEqual(proxy.log.map((e) => e.status), [304]);
  });
});

Deno.test("edge: the disk tier stays within --cache-gb (LRU) and an edge of an edge serves", async () => {
  await withWorld(async ({ model, startEdge, cacheDir }) => {
    const budget = 1 << 20;
    const edge = await startEdge({ diskCacheBytes: budget });
    const file = await get(`${edge.url}/acme/m/resolve/main/model.safetensors`);
    assert.equal(sha256Hex(file.body), sha256Hex(model));
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    const held = Number(/tessera_edge_disk_bytes (\d+)/.exec(metrics)![1]);
    assert.ok(held <= budget, `${held} bytes held, budget ${budget}`);
    assert.match(metrics, /tessera_edge_disk_evictions_total [1-9]/);
    // A second edge whose origin is the first.
    const chained = await startServer(
      serverConfig({ origin: edge.url, cacheDir: `${cacheDir}-2`, originTimeoutMs: 1500 }),
      () => {},
    );
    try {
      const via = await get(`${chained.url}/acme/m/resolve/main/model.safetensors`);
      assert.equal(via.status, 200);
      assert.equal(sha256Hex(via.body), sha256Hex(model));
    } finally {
      await chained.close();
      await Deno.remove(`${cacheDir}-2`, { recursive: true });
    }
  });
});

Deno.test("edge: the origin killed in the middle of a span: 503, nothing cached; then served", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera_origin_" });
  const cacheDir = await Deno.makeTempDir({ prefix: "tessera_edge_" });
  const model = edgeModel();
  await install(dir, model);
  let origin = await spawnServer(dir);
  const proxy = await startOriginProxy(origin.url);
  const edge = await startServer(
    serverConfig({ origin: proxy.url, cacheDir, originTimeoutMs: 1500 }),
    () => {},
  );
  try {
    assert.equal((await get(`${edge.url}/v1/models/acme/m/manifest`)).status, 200);
    await new Promise((r) => setTimeout(r, 300)); // the first layer's prefetch settles
    proxy.faults.onBigBody = { minBytes: 200_000, run: () => void origin.kill("SIGKILL") };
    const name = "model.layers.3.mlp.up_proj.weight";
    const cut = await get(`${edge.url}/v1/models/acme/m/tensors/${name}`);
    assert.equal(cut.status, 503, new TextDecoder().decode(cut.body));
    origin = await spawnServer(dir);
    proxy.target = origin.url;
    await new Promise((r) => setTimeout(r, 1100));
    const ok = await get(`${edge.url}/v1/models/acme/m/tensors/${name}`);
    assert.equal(ok.status, 200, new TextDecoder().decode(ok.body));
    assert.deepEqual(ok.body, tensorBytes(model, name));
  } finally {
    await edge.close();
    await proxy.close();
    await origin.kill("SIGTERM");
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("edge: a best container (alignment 1, chunks at odd offsets) and variants, byte for byte as the origin", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera_origin_" });
  const cacheDir = await Deno.makeTempDir({ prefix: "tessera_edge_" });
  const model = edgeModel(3);
  await install(dir, model, "acme/best", "best");
  await installVariants(dir);
  const packed = await openContainer(
    bufferSource(await Deno.readFile(`${dir}/acme/best/main/model.tsr`)),
    nativeBackends(),
  );
  const offsets = packed.index.tensors.flatMap((t) =>
    (t.encodings[0] as { chunks: number[][] }).chunks.map((r) => r[0])
  );
  assert.ok(offsets.some((o) => o % 2 === 1), "some chunk starts at an odd offset");
  const origin = await startServer(serverConfig({ modelsDir: dir }), () => {});
  const edge = await startServer(
    serverConfig({ origin: origin.url, cacheDir, originTimeoutMs: 5000 }),
    () => {},
  );
  try {
    const m = await get(`${edge.url}/v1/models/acme/best/manifest`);
    assert.equal(m.status, 200, new TextDecoder().decode(m.body));
    const whole = await get(`${edge.url}/acme/best/resolve/main/model.safetensors`);
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.body, model);
    const name = "model.layers.1.mlp.up_proj.weight";
    const tile = await get(`${edge.url}/v1/models/acme/best/tensors/${name}?rows=3:17&cols=5:300`);
    const want = await get(
      `${origin.url}/v1/models/acme/best/tensors/${name}?rows=3:17&cols=5:300`,
    );
    assert.equal(tile.status, 200);
    assert.deepEqual(tile.body, want.body);
    // Variants: the tensor, a tile, a layer, raw payloads and a variant revision, as the origin.
    const c = JSON.parse(
      new TextDecoder().decode((await get(`${origin.url}/v1/models/demo/var/manifest`)).body),
    );
    const matrix = (c.tensors as { name: string; layer: string; shape: number[] }[])
      .find((x) => x.shape.length === 2)!;
    const t = matrix.name, layer = matrix.layer;
    for (
      const path of [
        `/v1/models/demo/var/tensors/${encodeURIComponent(t)}?variant=int8:g64`,
        `/v1/models/demo/var/tensors/${encodeURIComponent(t)}?variant=int8:g64&rows=0:2`,
        `/v1/models/demo/var/tensors/${encodeURIComponent(t)}?variant=int8:g64&raw=1`,
        `/v1/models/demo/var/layers/${encodeURIComponent(layer)}?variant=svd:ratio=4`,
        `/v1/models/demo/edge/tensors/${encodeURIComponent(t)}?variant=int8`,
        `/demo/var/resolve/main@int8:g64/model.safetensors`,
      ]
    ) {
      const [a, b] = [await get(`${edge.url}${path}`), await get(`${origin.url}${path}`)];
      assert.equal(a.status, b.status, `${path}: ${new TextDecoder().decode(a.body)}`);
      assert.equal(a.status, 200, path);
      assert.deepEqual(a.body, b.body, path);
    }
  } finally {
    await edge.close();
    await origin.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("edge: a kept original header that is damaged is not trusted: the container is opened from the origin again", async () => {
  await withWorld(async ({ proxy, model, cacheDir, startEdge }) => {
    let edge = await startEdge();
    const name = "model.layers.0.mlp.up_proj.weight";
    assert.equal((await get(`${edge.url}/v1/models/acme/m/tensors/${name}`)).status, 200);
    await edge.close();
    // Each kept header (one per container opened) has a byte flipped.
    const headers: string[] = [];
    const walk = async (dir: string) => {
      for await (const e of Deno.readDir(dir)) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory) await walk(p);
        else if (e.name.endsWith(".header")) headers.push(p);
      }
    };
    await walk(cacheDir);
    assert.ok(headers.length > 0, "the open kept the stored original header");
    for (const p of headers) {
      const b = await Deno.readFile(p);
      b[b.length >> 1] ^= 1;
      await Deno.writeFile(p, b);
    }
    await originQuiet(proxy, 200);
    const before = proxy.blobRequests().length;
    edge = await startEdge();
    const again = await get(`${edge.url}/v1/models/acme/m/tensors/${name}`);
    assert.equal(again.status, 200, new TextDecoder().decode(again.body));
    assert.deepEqual(again.body, tensorBytes(model, name));
    // Opened afresh: the origin was asked for the container from byte 0 again.
    const opens = proxy.blobRequests().slice(before).filter((e) => e.range === "bytes=0-");
    assert.ok(opens.length > 0, "the container was opened from the origin again");
    const whole = await get(`${edge.url}/acme/m/resolve/main/model.safetensors`);
    assert.deepEqual(whole.body, model);
  });
});

Deno.test("edge: a segment damaged on the disk tier is fetched again; the file served stays exact", async () => {
  await withWorld(async ({ proxy, model, cacheDir, startEdge }) => {
    // The decoded file through the edge fills its disk tier, then every segment is on disk.
    const edge = await startEdge({ cacheBytes: 0 });
    const url = `${edge.url}/acme/m/resolve/main/model.safetensors`;
    assert.equal(sha256Hex((await get(url)).body), sha256Hex(model));
    await originQuiet(proxy);
    // Read once from disk, so that the files are open (descriptors kept) when one is damaged.
    assert.equal(sha256Hex((await get(url)).body), sha256Hex(model));
    // Flip a byte in the middle of the largest segment file (a chunk of a tensor's data).
    const files: { path: string; size: number }[] = [];
    const walk = async (d: string) => {
      for await (const e of Deno.readDir(d)) {
        const p = `${d}/${e.name}`;
        if (e.isDirectory) await walk(p);
        else if (/^\d+-\d+$/.test(e.name)) files.push({ path: p, size: (await Deno.stat(p)).size });
      }
    };
    await walk(cacheDir);
    files.sort((a, b) => b.size - a.size);
    assert.ok(files.length > 0, "segments on disk");
    const victim = await Deno.readFile(files[0].path);
    victim[victim.length >> 1] ^= 0x40;
    await Deno.writeFile(files[0].path, victim);
    proxy.log.length = 0;
    // Verified again as it is read from disk: the damage is caught and the segment refetched.
    const again = await get(url);
    assert.equal(again.status, 200);
    assert.equal(sha256Hex(again.body), sha256Hex(model));
    assert.ok(proxy.blobRequests().length >= 1, "the damaged segment was fetched again");
    // The refetched segment replaced the damaged file: read from the new one, no origin request.
    await originQuiet(proxy);
    proxy.log.length = 0;
    assert.equal(sha256Hex((await get(url)).body), sha256Hex(model));
    assert.equal(proxy.blobRequests().length, 0);
  });
});
