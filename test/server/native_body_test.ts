/**
 * Native response bodies (src/server/native_body.ts) through a real server: a cold whole GET and a
 * large range are the original's bytes, sent natively; a corrupt chunk cuts the body at the same
 * byte, with the same log line, as the body made in JavaScript; a warm server sends the blocks it
 * caches first, once it holds them all, then the rest natively; a client that goes away stops the
 * threads and leaves no descriptor or temporary folder; more GETs at once than the native limit
 * all come out right; a container file removed or replaced at its path since it was opened takes
 * the JavaScript path; a small body, and a server without worker threads, stay in JavaScript.
 */
import assert from "node:assert/strict";
import { MAX_NATIVE_BODIES, nativeBody, nativeBodyCounts } from "../../src/server/native_body.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { NATIVE_BODY_BYTES } from "../../src/server/representations.ts";
import { nativeUnpackAvailable } from "../../src/threads/native_unpack.ts";
import { S3_SUITE } from "../helpers/store_under_test.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { dtypeData, packBytes, withTempDir } from "../helpers/container.ts";
import { type Harness, withServer } from "./harness.ts";

// Native bodies need the native library and a container in a local file.
const ignore = !nativeUnpackAvailable() || S3_SUITE;

/** A model just over the native threshold: two BF16 tensors and a small F32 one. */
const ORIGINAL = (() => {
  const rng = new Rng(8), rows = Math.ceil(NATIVE_BODY_BYTES / 2 / 2048 / 2) + 40;
  return buildSafetensors([
    { name: "a", dtype: "BF16", shape: [rows, 2048], data: dtypeData("BF16", rows * 2048, rng) },
    { name: "n", dtype: "F32", shape: [300], data: dtypeData("F32", 300, rng) },
    { name: "b", dtype: "BF16", shape: [rows, 2048], data: dtypeData("BF16", rows * 2048, rng) },
  ]);
})();

let packed: Promise<Uint8Array> | undefined;

/** The model packed (fast), once. */
function container(): Promise<Uint8Array> {
  packed ??= withTempDir(async (dir) => (await packBytes(ORIGINAL, dir, { mode: "fast" })).bytes);
  return packed;
}

/** Installs `bytes` as org/m@main under `dir`. */
async function install(dir: string, bytes: Uint8Array): Promise<void> {
  await Deno.mkdir(`${dir}/org/m/main`, { recursive: true });
  await Deno.writeFile(`${dir}/org/m/main/model.tsr`, bytes);
}

/**
 * A cold server (no cache) with worker threads, over `bytes` (the sound container by default);
 * with `cacheBytes`, a warm one.
 */
async function withCold(
  fn: (h: Harness, url: string) => Promise<void>,
  bytes?: Uint8Array,
  workers = 2,
  cacheBytes = 0,
): Promise<void> {
  const tsr = bytes ?? await container();
  await withServer(
    (h) => fn(h, `${h.url}/org/m/resolve/main/model.safetensors`),
    { cacheBytes, workers },
    (dir) => install(dir, tsr),
  );
}

/** Reads `res`'s body until it ends or fails: the bytes that came, and the failure. */
async function drain(res: Response): Promise<{ bytes: Uint8Array; failed: boolean }> {
  const parts: Uint8Array[] = [];
  let failed = false;
  try {
    for await (const p of res.body!) parts.push(p);
  } catch {
    failed = true;
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
  return { bytes, failed };
}

/** Waits until no native body runs (they end just after their last byte is on the socket). */
async function settled(): Promise<void> {
  for (let i = 0; i < 200 && nativeBodyCounts().running > 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(nativeBodyCounts().running, 0, "every native body ended");
}

/** Descriptors of this process. */
function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

/** Temporary folders of native bodies left in the temporary directory. */
function bodyFolders(): string[] {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  return [...Deno.readDirSync(tmp)].map((e) => e.name).filter((n) => n.startsWith("tessera-body-"));
}

Deno.test({
  name: "native body: a cold whole GET and a large range are the original's bytes, sent natively",
  ignore,
  async fn() {
    await withCold(async (h, url) => {
      const before = nativeBodyCounts().started;
      const whole = await fetch(url);
      assert.equal(whole.status, 200);
      assert.equal(whole.headers.get("Content-Length"), String(ORIGINAL.length));
      const got = await drain(whole);
      assert.ok(!got.failed);
      assert.deepEqual(got.bytes, ORIGINAL);
      const [a, b] = [12345, ORIGINAL.length - 777];
      const range = await fetch(url, { headers: { Range: `bytes=${a}-${b - 1}` } });
      assert.equal(range.status, 206);
      assert.deepEqual((await drain(range)).bytes, ORIGINAL.subarray(a, b));
      assert.equal(nativeBodyCounts().started - before, 2, "both went native");
      await settled();
      // The access log and the metrics count the bytes sent.
      const metrics = await (await fetch(`${h.url}/metrics`)).text();
      const sent = /tessera_http_response_bytes_total\{route="[^"]*resolve[^"]*"\} (\d+)/.exec(
        metrics,
      );
      assert.equal(Number(sent?.[1]), ORIGINAL.length + (b - a));
      assert.ok(h.logs.some((l) => l.includes(` 200 ${ORIGINAL.length}B `)), h.logs.join("\n"));
    });
  },
});

Deno.test({
  name: "native body: a small range, and a server without worker threads, stay in JavaScript",
  ignore,
  async fn() {
    for (const workers of [2, 0]) {
      await withCold(
        async (_h, url) => {
          const before = nativeBodyCounts().started;
          const small = await fetch(url, { headers: { Range: "bytes=100-2000000" } });
          assert.deepEqual((await drain(small)).bytes, ORIGINAL.subarray(100, 2000001));
          if (workers === 0) assert.deepEqual((await drain(await fetch(url))).bytes, ORIGINAL);
          assert.equal(nativeBodyCounts().started, before);
        },
        undefined,
        workers,
      );
    }
  },
});

Deno.test({
  name:
    "native body: a corrupt chunk cuts the body where the JavaScript body cuts it, logged alike",
  ignore,
  async fn() {
    const bytes = (await container()).slice();
    bytes[Math.floor(bytes.length * 0.6)] ^= 0x5a;
    const cuts: { length: number; log: string }[] = [];
    for (const workers of [2, 0]) {
      await withCold(
        async (h, url) => {
          const before = nativeBodyCounts().started;
          const res = await fetch(url);
          assert.equal(res.status, 200);
          const got = await drain(res);
          assert.equal(nativeBodyCounts().started - before, workers > 0 ? 1 : 0);
          assert.ok(got.failed, "the body fails rather than end short quietly");
          assert.ok(got.bytes.length < ORIGINAL.length);
          assert.deepEqual(got.bytes, ORIGINAL.subarray(0, got.bytes.length));
          await settled();
          const log = h.logs.find((l) => l.includes("response cut after"));
          assert.ok(log?.includes("ContainerError"), h.logs.join("\n"));
          cuts.push({ length: got.bytes.length, log: log! });
        },
        bytes,
        workers,
      );
    }
    assert.deepEqual(cuts[0], cuts[1]);
  },
});

Deno.test({
  name: "native body: a client that goes away stops its threads and leaves nothing behind",
  ignore,
  async fn() {
    await withCold(async (h, url) => {
      // Warm: the first native body opens the library and the server's lazily made parts.
      await drain(await fetch(url));
      await settled();
      const fds = openFds(), folders = bodyFolders().length, before = nativeBodyCounts().started;
      for (let i = 0; i < 3; i++) {
        const abort = new AbortController();
        const res = await fetch(url, { signal: abort.signal });
        const reader = res.body!.getReader();
        await reader.read();
        abort.abort();
        await reader.cancel().catch(() => {});
      }
      await settled();
      assert.equal(nativeBodyCounts().started - before, 3);
      assert.equal(bodyFolders().length, folders, "no temporary folder left");
      // Connections the server and this client pooled may close a little later.
      for (let i = 0; i < 100 && openFds() > fds; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(openFds() <= fds, `descriptors: ${openFds()} after, ${fds} before`);
      assert.ok(h.logs.some((l) => l.includes("(client went away)")), h.logs.join("\n"));
      assert.deepEqual((await drain(await fetch(url))).bytes, ORIGINAL, "still serves");
    });
  },
});

Deno.test({
  name: "native body: more GETs at once than the native limit all come out right",
  ignore,
  async fn() {
    await withCold(async (_h, url) => {
      const before = nativeBodyCounts().started;
      const n = MAX_NATIVE_BODIES + 2;
      const bodies = await Promise.all(
        Array.from({ length: n }, async () => (await drain(await fetch(url))).bytes),
      );
      for (const b of bodies) assert.deepEqual(b, ORIGINAL);
      const native = nativeBodyCounts().started - before;
      assert.ok(native >= 1 && native <= n, `${native} native bodies`);
      await settled();
    });
  },
});

Deno.test({
  name: "native body: a warm server sends the blocks it caches, then natively the rest",
  ignore,
  async fn() {
    // A cache of 24 MiB keeps the first 12 MiB of blocks of the 17 MiB file.
    await withCold(
      async (_h, url) => {
        const before = nativeBodyCounts().started;
        // The first GET reads the way that fills the cache.
        assert.deepEqual((await drain(await fetch(url))).bytes, ORIGINAL);
        assert.equal(nativeBodyCounts().started, before);
        for (const range of [null, [5000, ORIGINAL.length - 3]]) {
          const res = await fetch(
            url,
            range ? { headers: { Range: `bytes=${range[0]}-${range[1]}` } } : {},
          );
          const want = range ? ORIGINAL.subarray(range[0], range[1] + 1) : ORIGINAL;
          assert.deepEqual((await drain(res)).bytes, want);
        }
        assert.equal(nativeBodyCounts().started - before, 2);
        await settled();
      },
      undefined,
      2,
      24 << 20,
    );
  },
});

Deno.test({
  name: "native body: a container file removed or replaced since it was opened goes JavaScript",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const path = `${dir}/m.tsr`;
      await Deno.writeFile(path, await container());
      const c = await openContainerFile(path);
      try {
        const parts = { length: 0, prefix: [], blocks: () => [] };
        await Deno.remove(path);
        assert.equal(await nativeBody(c, parts, { threads: 1 }, {}), null);
        await Deno.writeFile(path, new Uint8Array(10));
        assert.equal(await nativeBody(c, parts, { threads: 1 }, {}), null);
        assert.equal(nativeBodyCounts().running, 0);
      } finally {
        c.source.close();
      }
    });
  },
});
