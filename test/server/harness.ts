/**
 * Test harness for the server: a temporary models folder holding the demo model, a real server on
 * a random loopback port, and helpers to read multipart/byteranges bodies.
 * @module
 */
import assert from "node:assert/strict";
import { DEMO_MODEL } from "../../src/cli/demo.ts";
import { packFile } from "../../src/pack/write.ts";
import { defaultConfig, type ServerConfig } from "../../src/server/config.ts";
import { type RunningServer, startServer } from "../../src/server/server.ts";
import { storeUnderTest } from "../helpers/store_under_test.ts";

/** The demo model's bytes, read once. */
export const ORIGINAL = await Deno.readFile(DEMO_MODEL);

let packedDemo: Promise<Uint8Array> | null = null;

/** The demo model packed in best mode, computed once per test process. */
export function demoContainer(): Promise<Uint8Array> {
  packedDemo ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "tessera_demo_" });
    try {
      await packFile(DEMO_MODEL, `${dir}/model.tsr`, { mode: "best" });
      return await Deno.readFile(`${dir}/model.tsr`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return packedDemo;
}

/** What a test gets. */
export interface Harness {
  /** The running server. */
  readonly server: RunningServer;
  /** Its base URL. */
  readonly url: string;
  /** The models folder. */
  readonly dir: string;
  /** Log lines written by the server. */
  readonly logs: string[];
}

/** Writes the demo container (and a config.json) as `org/name@revision` under `dir`. */
export async function installDemo(
  dir: string,
  org = "demo",
  name = "stories260k",
  revision = "main",
): Promise<string> {
  const rev = `${dir}/${org}/${name}/${revision}`;
  await Deno.mkdir(rev, { recursive: true });
  await Deno.writeFile(`${rev}/model.tsr`, await demoContainer());
  await Deno.writeTextFile(`${rev}/config.json`, '{"model_type":"llama","hidden_size":64}\n');
  return `${rev}/model.tsr`;
}

/**
 * Runs `fn` against a fresh server whose models folder holds the demo model; everything is torn
 * down afterwards.
 */
export async function withServer(
  fn: (h: Harness) => Promise<void>,
  config: Partial<ServerConfig> = {},
  setup: (dir: string) => Promise<void> = async (dir) => void await installDemo(dir),
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tessera_srv_" });
  const logs: string[] = [];
  try {
    await setup(dir);
    const server = await startServer(
      defaultConfig({
        modelsDir: await storeUnderTest(dir),
        port: 0,
        host: "127.0.0.1",
        workers: 0,
        timeoutMs: 10_000,
        quiet: false,
        packInline: true,
        ...config,
      }),
      (line) => logs.push(line),
    );
    try {
      await fn({ server, url: server.url, dir, logs });
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One part of a multipart/byteranges body. */
export interface Part {
  /** Its Content-Type. */
  readonly type: string | null;
  /** Its Content-Range, parsed. */
  readonly start: number;
  /** One past the last byte. */
  readonly end: number;
  /** The total length from Content-Range. */
  readonly total: number;
  /** Its bytes. */
  readonly bytes: Uint8Array;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Parses a multipart/byteranges response body strictly (RFC 2046 framing, RFC 9110 §14.6). */
export function parseMultipart(contentType: string, body: Uint8Array): Part[] {
  const m = /^multipart\/byteranges;\s*boundary=("?)([^";]+)\1$/.exec(contentType);
  assert.ok(m, `not multipart/byteranges: ${contentType}`);
  const enc = new TextEncoder(), dec = new TextDecoder();
  const delim = enc.encode(`--${m[2]}`);
  const parts: Part[] = [];
  let at = indexOf(body, delim, 0);
  assert.equal(at, 0, "body starts with the first delimiter");
  for (;;) {
    at += delim.length;
    if (body[at] === 0x2d && body[at + 1] === 0x2d) {
      assert.equal(dec.decode(body.subarray(at + 2)), "\r\n", "close delimiter ends the body");
      return parts;
    }
    assert.equal(dec.decode(body.subarray(at, at + 2)), "\r\n");
    at += 2;
    const headEnd = indexOf(body, enc.encode("\r\n\r\n"), at);
    const head = dec.decode(body.subarray(at, headEnd));
    const headers = new Map(
      head.split("\r\n").map((l) => {
        const i = l.indexOf(":");
        return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()] as [string, string];
      }),
    );
    const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(headers.get("content-range") ?? "");
    assert.ok(cr, `part Content-Range: ${headers.get("content-range")}`);
    const start = Number(cr[1]), end = Number(cr[2]) + 1;
    const dataStart = headEnd + 4;
    const bytes = body.subarray(dataStart, dataStart + (end - start));
    parts.push({
      type: headers.get("content-type") ?? null,
      start,
      end,
      total: Number(cr[3]),
      bytes,
    });
    at = dataStart + (end - start);
    assert.equal(dec.decode(body.subarray(at, at + 2)), "\r\n", "CRLF before the next delimiter");
    at += 2;
    assert.equal(indexOf(body, delim, at), at, "delimiter follows the part");
  }
}

/** SHA-256 hex of bytes. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** GETs `url` and returns status, headers and the whole body. */
export async function get(
  url: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<{ status: number; headers: Headers; body: Uint8Array }> {
  const res = await fetch(url, { method, headers });
  return {
    status: res.status,
    headers: res.headers,
    body: new Uint8Array(await res.arrayBuffer()),
  };
}

/** Tensors of the synthetic model: awkward names, several tile columns, N-D, scalar, empty. */
export const SYNTHETIC_TENSORS = [
  { name: "model.embed_tokens.weight", dtype: "BF16", shape: [50, 70] },
  { name: "w/a:b", dtype: "F32", shape: [40, 300] },
  { name: "émb/ü ✓", dtype: "BF16", shape: [3, 5, 7, 9] },
  { name: "p%2Fq", dtype: "F32", shape: [2, 2] },
  { name: "scalar", dtype: "F32", shape: [] },
  { name: "empty", dtype: "F32", shape: [0, 4] },
  { name: "model.layers.0.x.weight", dtype: "F16", shape: [33, 17] },
  { name: "model.layers.0.y.bias", dtype: "F16", shape: [65] },
  { name: "model.layers.1.x.weight", dtype: "I8", shape: [7, 130] },
] as const;

/**
 * Packs the synthetic model with small chunks (so tensors span many tiles) as
 * `test/tiny@main` under `dir`; returns the original file's bytes.
 */
export async function installSynthetic(
  dir: string,
  mode: "fast" | "best" = "fast",
): Promise<Uint8Array> {
  const { buildSafetensors } = await import("../safetensors/fixture.ts");
  const bytes = buildSafetensors(
    SYNTHETIC_TENSORS.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] })),
    { format: "pt" },
  );
  const rev = `${dir}/test/tiny/main`;
  await Deno.mkdir(rev, { recursive: true });
  const src = `${dir}/tiny.safetensors`;
  await Deno.writeFile(src, bytes);
  await packFile(src, `${rev}/model.tsr`, { mode, chunkBytes: 4096 });
  await Deno.remove(src);
  return bytes;
}

/** Offsets of a tensor's bytes within a safetensors file. */
export function tensorSpan(
  file: Uint8Array,
  name: string,
): { begin: number; end: number; dtype: string; shape: number[] } {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)));
  const e = header[name];
  return {
    begin: 8 + n + e.data_offsets[0],
    end: 8 + n + e.data_offsets[1],
    dtype: e.dtype,
    shape: e.shape,
  };
}

/** Reference N-D slice: gathers `ranges` (one [start, end) per dimension) of row-major `data`. */
export function gather(
  data: Uint8Array,
  shape: readonly number[],
  width: number,
  ranges: readonly [number, number][],
): Uint8Array {
  const outShape = ranges.map(([s, e]) => e - s);
  const count = outShape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(count * width);
  const idx = ranges.map(([s]) => s);
  for (let k = 0; k < count; k++) {
    let flat = 0;
    for (let d = 0; d < shape.length; d++) flat = flat * shape[d] + idx[d];
    out.set(data.subarray(flat * width, flat * width + width), k * width);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < ranges[d][1]) break;
      idx[d] = ranges[d][0];
    }
  }
  return out;
}
