/**
 * `loadModel` against the real server on a random loopback port: progressive order, and a
 * corrupted container that never yields a wrong byte.
 * @module
 */
import { ContainerError } from "../../src/container/errors.ts";
import assert from "node:assert/strict";
import type { Fetch } from "../../src/client/http.ts";
import { type LoadedTensor, loadModel, type Transport } from "../../src/client/load_model.ts";
import { pullFile } from "../../src/cli/pull.ts";
import { linkPacer } from "../../src/client/link_pacer.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { dtypeData, listDir, sourceTensorBytes, withTempDir } from "../helpers/container.ts";
import { packModel, startHub } from "./hub_server.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors, type FixtureTensor } from "../safetensors/fixture.ts";

const FIXTURE = new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url).pathname;

/** A fetch that logs `fetch <tensor>` for every request that reads a tensor's bytes. */
function tensorLog(events: string[], owner: (req: Request) => string | undefined): Fetch {
  return (input, init) => {
    const req = new Request(input, init);
    const name = owner(req);
    if (name !== undefined) events.push(`fetch ${name}`);
    return fetch(req);
  };
}

for (const transport of ["decoded", "compressed"] as const) {
  Deno.test(`loadModel ${transport}: layer 0 is yielded before the last layer is fetched`, () =>
    withTempDir(async (dir) => {
      const m = await packModel(`${dir}/models`, "demo/tiny", FIXTURE, 4096);
      const c = await openContainerFile(m.container);
      c.source.close();
      const { index } = c;
      const source = await Deno.readFile(FIXTURE);
      // Which tensor a request is for: by name in the URL, or by the container offset it reads.
      const byOffset = new Map<number, string>();
      for (const t of index.tensors) {
        for (const [offset] of losslessOf(t).chunks) byOffset.set(offset, t.name);
      }
      const owner = (req: Request): string | undefined => {
        const path = new URL(req.url).pathname;
        const tensor = /\/tensors\/([^/]+)$/.exec(path);
        if (tensor) return decodeURIComponent(tensor[1]);
        const range = /^bytes=(\d+)-/.exec(req.headers.get("range") ?? "");
        return path.endsWith("/container") && range ? byOffset.get(Number(range[1])) : undefined;
      };
      const hub = await startHub(`${dir}/models`);
      try {
        const events: string[] = [];
        const got: LoadedTensor[] = [];
        for await (
          const t of loadModel(`${hub.base}/v1/models/demo/tiny`, {
            transport,
            concurrency: 2,
            fetch: tensorLog(events, owner),
            // Small reads, two at a time, and an open that fetches only the head and the index:
            // on a model this small the default 4 MiB spans would fetch everything at once, and
            // the opening stream would carry everything it received before the first layer's
            // read (whose bytes it keeps), with no request to see.
            http: {
              stream: false,
              hints: { spanBytes: 0, gapBytes: 0, inflight: 2 },
              prefixBytes: 64,
              tailBytes: 4096,
            },
          })
        ) {
          events.push(`yield ${t.name}`);
          got.push(t);
        }
        const layerOf = new Map(index.tensors.map((t) => [t.name, t.layer]));
        const first = index.layers[0], last = index.layers[index.layers.length - 1];
        assert.equal(got[0].layer, first);
        assert.deepEqual(
          got.map((t) => t.layer).filter((l, i, a) => a.indexOf(l) === i),
          index.layers,
        );
        const firstYield = events.indexOf(`yield ${got[0].name}`);
        const lastFetch = events.findIndex((e) =>
          e.startsWith("fetch ") && layerOf.get(e.slice(6)) === last
        );
        assert.ok(lastFetch > 0, "the last layer was fetched");
        assert.ok(firstYield < lastFetch, events.join("\n"));
        // Every layer-0 tensor is yielded before any last-layer request goes out.
        for (const t of got.filter((t) => t.layer === first)) {
          assert.ok(events.indexOf(`yield ${t.name}`) < lastFetch);
        }
        for (const t of got) {
          assert.deepEqual(t.bytes, sourceTensorBytes(source, index, t.name));
        }
      } finally {
        await hub.close();
      }
    }));
}

Deno.test("client: a container with a flipped byte never yields or writes a wrong byte", () =>
  withTempDir(async (dir) => {
    const m = await packModel(`${dir}/models`, "demo/bad", FIXTURE, 4096);
    const c = await openContainerFile(m.container);
    c.source.close();
    const victim = c.index.tensors[Math.floor(c.index.tensors.length / 2)];
    const [offset, stored] = losslessOf(victim).chunks[0];
    const bytes = await Deno.readFile(m.container);
    bytes[offset + (stored >> 1)] ^= 0x04;
    await Deno.writeFile(m.container, bytes);
    const source = await Deno.readFile(FIXTURE);
    const hub = await startHub(`${dir}/models`);
    try {
      for (const transport of ["compressed", "decoded"] as Transport[]) {
        const yielded: LoadedTensor[] = [];
        const error = await (async () => {
          for await (
            const t of loadModel(`${hub.base}/v1/models/demo/bad`, { transport, concurrency: 1 })
          ) {
            yielded.push(t);
          }
        })().then(() => undefined, (e) => e);
        assert.ok(error instanceof Error, `${transport}: the load must fail`);
        if (transport === "compressed") {
          assert.ok(
            error instanceof ContainerError && error.kind === "chunk_corrupt",
            String(error),
          );
          assert.match(error.message, new RegExp(`tensor "${victim.name}" chunk 0`));
        }
        assert.ok(!yielded.some((t) => t.name === victim.name), transport);
        for (const t of yielded) {
          assert.deepEqual(t.bytes, sourceTensorBytes(source, c.index, t.name));
        }
        const out = `${dir}/out-${transport}.safetensors`;
        await assert.rejects(pullFile({ url: `${hub.base}/demo/bad`, out, transport }));
        await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
      }
      assert.ok(!listDir(dir).some((n) => n.startsWith("out-") && n.endsWith(".safetensors")));
      // The server stays healthy.
      const res = await fetch(`${hub.base}/v1/models/demo/bad/manifest`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      await hub.close();
    }
  }));

Deno.test("loadModel auto: compressed on a slow link where the saved bytes pay, else decoded", () =>
  withTempDir(async (dir) => {
    await packModel(`${dir}/models`, "demo/tiny", FIXTURE, 4096);
    const hub = await startHub(`${dir}/models`);
    try {
      // 1 MB/s: the 183 KB the container saves take 0.18 s; 10 MB/s: 18 ms, still above
      // AUTO_MIN_SAVING_S (10 ms); 100 MB/s: 1.8 ms, too little to pay for decoding here; 1 GB/s:
      // a fast link.
      const cases = [
        [1e6, "compressed"],
        [1e7, "compressed"],
        [1e8, "decoded"],
        [1e9, "decoded"],
      ] as const;
      for (const [bandwidth, expected] of cases) {
        // The real pacer paces the requests; only its bandwidth estimate is set, as a link of that
        // speed would have measured it (the opening's two bodies).
        const real = linkPacer();
        const pacer = { ...real, estimates: () => ({ rtt: 0.001, bandwidth }) };
        const paths = new Set<string>();
        const fetchFn: Fetch = (input, init) => {
          const req = new Request(input, init);
          paths.add(new URL(req.url).pathname.split("/").pop()!);
          return fetch(req);
        };
        const got: LoadedTensor[] = [];
        for await (
          const t of loadModel(`${hub.base}/v1/models/demo/tiny`, {
            fetch: fetchFn,
            http: { pacer },
          })
        ) got.push(t);
        assert.equal(got.length, 47);
        // The decoded transport reads tensors by name after the manifest; the compressed one reads
        // the container only.
        const sawTensorRoutes = [...paths].some((p) => p !== "container" && p !== "manifest");
        assert.equal(sawTensorRoutes ? "decoded" : "compressed", expected, [...paths].join(" "));
      }
    } finally {
      await hub.close();
    }
  }));

Deno.test("loadModel compressed: no span of the first layer reaches into the next layer", () =>
  withTempDir(async (dir) => {
    // A first layer of more than one 4 MiB span, then a layer of 4 MiB.
    const rng = new Rng(8);
    const tensors: FixtureTensor[] = [
      ["model.embed_tokens.weight", [4096, 1024]],
      ["model.layers.0.mlp.weight", [2048, 1024]],
      ["model.norm.weight", [1024]],
    ].map(([name, shape]) => ({
      name: name as string,
      dtype: "BF16",
      shape: shape as number[],
      data: dtypeData("BF16", (shape as number[]).reduce((a, b) => a * b, 1), rng),
    }));
    const src = `${dir}/m.safetensors`;
    await Deno.writeFile(src, buildSafetensors(tensors));
    const m = await packModel(`${dir}/models`, "demo/layers", src);
    const c = await openContainerFile(m.container);
    c.source.close();
    const chunks = (name: string) =>
      losslessOf(c.index.tensors.find((t) => t.name === name)!).chunks;
    const embed = chunks("model.embed_tokens.weight");
    const firstEnd = embed.at(-1)![0] + embed.at(-1)![1];
    const nextStart = chunks("model.layers.0.mlp.weight")[0][0];
    assert.ok(firstEnd - embed[0][0] > 4 << 20, "the first layer needs two spans");
    const hub = await startHub(`${dir}/models`);
    try {
      for (const stream of [false, true]) {
        const ranges: [number, number][] = [];
        const fetchFn: Fetch = (input, init) => {
          const r = /^bytes=(\d+)-(\d+)$/.exec(new Request(input, init).headers.get("range") ?? "");
          if (r) ranges.push([Number(r[1]), Number(r[2])]);
          return fetch(input, init);
        };
        const got: LoadedTensor[] = [];
        for await (
          const t of loadModel(`${hub.base}/v1/models/demo/layers`, {
            transport: "compressed",
            fetch: fetchFn,
            http: { stream },
          })
        ) got.push(t);
        assert.deepEqual(got.map((t) => t.name), tensors.map((t) => t.name));
        for (const [k, t] of got.entries()) assert.deepEqual(t.bytes, tensors[k].data);
        if (stream) continue; // every chunk came in the opening body: no spans to check
        const spans = ranges.filter(([a]) => a > 0);
        assert.ok(spans.some(([, b]) => b === firstEnd - 1), JSON.stringify(spans));
        for (const [a, b] of spans) {
          assert.ok(b < nextStart || a >= firstEnd, `span ${a}-${b} spans both layers`);
        }
      }
    } finally {
      await hub.close();
    }
  }));
