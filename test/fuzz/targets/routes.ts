/**
 * Fuzz target for URL path handling: requests with mutated paths, queries and headers through the
 * real app (every route, in process, no socket) over a store holding two repos, each with a
 * safetensors file and a config file (imported at start from the folder layout of earlier versions). Nothing may answer 5xx, leak a file from outside the models folder, or send a body that
 * disagrees with its Content-Length.
 * @module
 */
import { createApp } from "../../../src/server/app.ts";
import { defaultConfig } from "../../../src/server/config.ts";
import type { ServerContext } from "../../../src/server/context.ts";
import { closeContext, createServerContext } from "../../../src/server/server.ts";
import type { Rng } from "../../codec/prng.ts";
import { check, type FuzzTarget } from "../core.ts";
import { smallContainers } from "../corpus.ts";
import { HOSTILE_STRINGS, mutateBytes, pick, randomString } from "../mutate.ts";

// A file beside the models folder: no response may ever contain it.
const CANARY = "tessera-fuzz-canary-7f3a9c";

let root = "";
let ctx: ServerContext | null = null;
let fetchApp: ((req: Request) => Response | Promise<Response>) | null = null;

const PATHS = [
  "/healthz",
  "/openapi.json",
  "/v1/models",
  "/v1/models/t/kat",
  "/v1/models/t/kat/manifest",
  "/v1/models/t/kat/tensors/model.embed_tokens.weight",
  "/v1/models/t/kat/tensors/model.layers.0.mlp.up_proj.weight?rows=0:2&cols=1:",
  "/v1/models/t/syn/tensors/model.layers.0.w?slice=1:3,-2:",
  "/v1/models/t/syn/tensors/scalar",
  "/v1/models/t/kat/layers/model.layers.0",
  "/v1/models/t/kat/container",
  "/v1/models/t/kat/container?file=model.safetensors",
  "/v1/models/t/kat/files/config.json",
  "/api/models",
  "/api/models/t/kat",
  "/api/models/t/kat/revision/main",
  "/api/models/t/kat/tree/main",
  "/api/models/t/kat/tree/main/sub?recursive=true",
  "/api/models/t/kat/refs",
  "/api/models/t/kat/commits/main",
  "/api/models/t/kat/paths-info/main",
  "/t/kat/resolve/main/model.safetensors",
  "/t/kat/resolve/main/model.tsr",
  "/t/kat/resolve/main/config.json",
  "/t/syn/raw/main/config.json",
  "/t/syn/raw/main/model.safetensors",
  "/metrics",
];

const SEGMENTS = ["..", "%2e%2e", "%2E%2e/", ".", "%2f", "%5c", "%00", "//", "~", "secret.txt"];

function mutatePath(rng: Rng, path: string): string {
  switch (rng.int(6)) {
    case 0: { // a segment replaced
      const parts = path.split("/");
      parts[1 + rng.int(parts.length - 1)] = pick(rng, [...SEGMENTS, ...HOSTILE_STRINGS]);
      return parts.join("/");
    }
    case 1: { // a segment inserted
      const parts = path.split("/");
      parts.splice(1 + rng.int(parts.length), 0, pick(rng, SEGMENTS));
      return parts.join("/");
    }
    case 2: // bytes changed
      return new TextDecoder().decode(mutateBytes(rng, new TextEncoder().encode(path)));
    case 3:
      return path + pick(rng, ["?revision=", "?revision=..", "?revision=%00", "?rows=0-5", "#x"]);
    case 4:
      return path + "/../../" + pick(rng, ["secret.txt", "../secret.txt", "%2e%2e%2fsecret.txt"]);
    default:
      return path.replace(/\/[^/]*$/, "/" + encodeURIComponent(randomString(rng, 12)));
  }
}

interface RouteInput {
  method: string;
  path: string;
  headers: [string, string][];
}

/** Every route, in process: no 5xx, no canary, bodies as long as announced. */
export const routesTarget: FuzzTarget<RouteInput> = {
  name: "routes",
  weight: 3,
  covers: "routes/ and src/server/ request handling: route matching, path decoding, names, " +
    "revisions, query and byte-serving headers",
  async setup() {
    if (ctx) return;
    root = await Deno.makeTempDir({ prefix: "tessera_fuzz_routes_" });
    await Deno.writeTextFile(`${root}/secret.txt`, CANARY);
    const models = `${root}/models`;
    const [kat, , syn] = await smallContainers();
    for (const [name, c] of [["kat", kat], ["syn", syn]] as const) {
      await Deno.mkdir(`${models}/t/${name}/main`, { recursive: true });
      await Deno.writeFile(`${models}/t/${name}/main/model.tsr`, c.bytes);
      await Deno.writeTextFile(`${models}/t/${name}/main/config.json`, '{"model_type":"x"}\n');
    }
    ctx = await createServerContext(
      defaultConfig({ modelsDir: models, workers: 0, quiet: true, demo: false, packInline: true }),
      () => {},
    );
    const app = createApp(ctx);
    fetchApp = (req) => app.fetch(req);
  },
  async teardown() {
    if (ctx) closeContext(ctx);
    ctx = null;
    if (root) await Deno.remove(root, { recursive: true }).catch(() => {});
  },
  generate(rng) {
    const base = pick(rng, PATHS);
    const path = rng.int(5) ? mutatePath(rng, base) : base;
    const headers: [string, string][] = [];
    if (rng.int(3) === 0) {
      headers.push(["Range", pick(rng, ["bytes=0-9", "bytes=-5,0-0", "bytes=00-1", "bytes=x"])]);
    }
    if (rng.int(6) === 0) headers.push(["If-Match", pick(rng, ['"x"', "*", 'W/"y"'])]);
    if (rng.int(6) === 0) headers.push(["If-None-Match", pick(rng, ['"x"', "*"])]);
    if (rng.int(8) === 0) {
      headers.push(["Want-Content-Digest", pick(rng, ["sha-256", "sha-512=1", "md5"])]);
    }
    const method = rng.int(12)
      ? pick(rng, ["GET", "HEAD"])
      : pick(rng, ["PUT", "DELETE", "POST", "OPTIONS", "PATCH"]);
    return { method, path, headers };
  },
  async run({ method, path, headers }) {
    let req: Request;
    try {
      req = new Request(new URL(path, "http://fuzz.local").href, { method, headers });
    } catch {
      return; // not a request a client could send
    }
    const res = await fetchApp!(req);
    const body = new Uint8Array(await res.arrayBuffer());
    check(
      res.status < 500,
      () =>
        `${method} ${path} answered ${res.status}: ${
          new TextDecoder().decode(body.subarray(0, 300))
        }`,
    );
    const text = new TextDecoder("latin1").decode(body);
    check(!text.includes(CANARY), `${method} ${path} sent the canary file`);
    if (method === "HEAD") check(body.length === 0, `HEAD ${path} sent a body`);
    const length = res.headers.get("Content-Length");
    if (length !== null && method !== "HEAD" && res.status !== 304) {
      check(
        Number(length) === body.length,
        `${path}: ${body.length} bytes for Content-Length ${length}`,
      );
    }
  },
  expected: () => false,
};
