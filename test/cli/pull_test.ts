/**
 * `pull` against a server on a random loopback port: byte-identical files over both transports,
 * resume after an interruption, restart when the file changed, and no corrupt output ever.
 * @module
 */
import { ContainerError } from "../../src/container/errors.ts";
import assert from "node:assert/strict";
import type { Fetch } from "../../src/client/http.ts";
import { pull, pullFile, type PullOptions } from "../../src/cli/pull.ts";
import { UsageError } from "../../src/cli/usage_error.ts";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { skipIf } from "../helpers/skip.ts";
import { dataFiles, type Hub, packModel, startHub } from "../client/hub_server.ts";
import { listDir, withTempDir } from "../helpers/container.ts";

const FIXTURE = new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url).pathname;

interface Exchange {
  method: string;
  path: string;
  range: string | null;
  ifRange: string | null;
  status: number;
}

function recording(log: Exchange[]): Fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    const res = await fetch(req);
    log.push({
      method: req.method,
      path: new URL(req.url).pathname,
      range: req.headers.get("range"),
      ifRange: req.headers.get("if-range"),
      status: res.status,
    });
    return res;
  };
}

/** Runs `fn` with a temp dir holding `models/` (the fixture as `demo/tiny`) and a server on it. */
function withHub(
  fn: (hub: Hub, dir: string, source: Uint8Array) => Promise<void>,
): Promise<void> {
  return withTempDir(async (dir) => {
    await packModel(`${dir}/models`, "demo/tiny", FIXTURE, 4096);
    const hub = await startHub(`${dir}/models`);
    try {
      await fn(hub, dir, await Deno.readFile(FIXTURE));
    } finally {
      await hub.close();
    }
  });
}

/** Pulls with an abort once more than `after` bytes are on disk; returns the part size. */
async function interruptedPull(options: PullOptions, after: number): Promise<number> {
  const controller = new AbortController();
  await assert.rejects(
    pullFile({
      ...options,
      signal: controller.signal,
      onProgress: (done) => {
        if (done > after) controller.abort(new Error("interrupted"));
      },
    }),
    /interrupted/,
  );
  return (await Deno.stat(`${options.out}.part`)).size;
}

const files = dataFiles();

Deno.test({
  name: "pull: every model in ../shared/data is sha-256-identical over both transports",
  ignore: skipIf(
    files.length === 0 && "../shared/data holds no .safetensors file",
    "pull: every model in ../shared/data",
  ),
  fn: () =>
    withTempDir(async (dir) => {
      const models = await Promise.all(
        files.map((f) => packModel(`${dir}/models`, `data/${f.name}`, f.path)),
      );
      const hub = await startHub(`${dir}/models`);
      try {
        for (const [i, m] of models.entries()) {
          const expected = sha256Hex(await Deno.readFile(m.source));
          for (const transport of ["decoded", "compressed"] as const) {
            const out = `${dir}/${i}.${transport}.safetensors`;
            const url = i % 2 ? `${hub.base}/${m.id}` : `${hub.base}/v1/models/${m.id}`;
            const r = await pullFile({ url, out, transport });
            assert.equal(r.transport, transport);
            assert.equal(r.sha256, expected);
            assert.equal(sha256Hex(await Deno.readFile(out)), expected, `${m.id} ${transport}`);
            await Deno.remove(out);
          }
        }
        assert.deepEqual(listDir(dir), ["models"]);
      } finally {
        await hub.close();
      }
    }),
});

for (const transport of ["decoded", "compressed"] as const) {
  Deno.test(`pull ${transport}: an interrupted pull resumes where it stopped`, () =>
    withHub(async (hub, dir, source) => {
      const out = `${dir}/tiny.safetensors`;
      // Small blocks and reads, so that the pull can be interrupted part way through.
      const options = {
        url: `${hub.base}/demo/tiny`,
        out,
        transport,
        blockBytes: 8192,
        http: { hints: { spanBytes: 0, gapBytes: 0, inflight: 1 } },
      };
      const have = await interruptedPull(options, 64 << 10);
      assert.ok(have > 0 && have < source.length, `${have} bytes kept`);
      await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
      const log: Exchange[] = [];
      const r = await pullFile({ ...options, fetch: recording(log) });
      assert.deepEqual(await Deno.readFile(out), source);
      assert.ok(r.resumedFrom > 0 && r.resumedFrom <= have);
      assert.equal(r.restarted, false);
      if (transport === "decoded") {
        const get = log.find((e) => e.path.endsWith("/resolve/main/model.safetensors"))!;
        assert.equal(get.range, `bytes=${have}-`);
        assert.equal(get.ifRange, `"${sha256Hex(source)}"`);
        assert.equal(get.status, 206);
        assert.equal(r.resumedFrom, have);
      } else {
        // The rebuild continues at the byte where the partial file ends, from the container.
        assert.ok(log.every((e) => !e.path.includes("/resolve/")));
        assert.equal(r.resumedFrom, have);
      }
      assert.deepEqual(listDir(dir), ["models", "tiny.safetensors"]);
    }));
}

Deno.test("pull decoded: If-Range with a stale ETag gets a 200, and the pull restarts", () =>
  withHub(async (hub, dir, source) => {
    const out = `${dir}/tiny.safetensors`;
    const options = { url: `${hub.base}/demo/tiny`, out, transport: "decoded" as const };
    await interruptedPull(options, 64 << 10);
    const meta = JSON.parse(await Deno.readTextFile(`${out}.part.json`));
    await Deno.writeTextFile(`${out}.part.json`, JSON.stringify({ ...meta, etag: '"stale"' }));
    const log: Exchange[] = [];
    const r = await pullFile({ ...options, fetch: recording(log) });
    const get = log.find((e) => e.path.endsWith("/model.safetensors"))!;
    assert.equal(get.ifRange, '"stale"');
    assert.equal(get.status, 200);
    assert.equal(r.restarted, true);
    assert.equal(r.resumedFrom, 0);
    assert.deepEqual(await Deno.readFile(out), source);
  }));

Deno.test("pull: a corrupted partial file never becomes the output", () =>
  withHub(async (hub, dir, source) => {
    const out = `${dir}/tiny.safetensors`;
    const options = { url: `${hub.base}/v1/models/demo/tiny`, out, transport: "decoded" as const };
    const have = await interruptedPull(options, 64 << 10);
    const part = await Deno.readFile(`${out}.part`);
    part[have >> 1] ^= 0x40;
    await Deno.writeFile(`${out}.part`, part);
    await assert.rejects(
      pullFile(options),
      (e) => e instanceof ContainerError && e.kind === "digest_mismatch",
    );
    assert.deepEqual(listDir(dir), ["models"]);
    await pullFile(options);
    assert.deepEqual(await Deno.readFile(out), source);
  }));

Deno.test("pull CLI: pulls, reports, and rejects bad arguments", () =>
  withHub(async (hub, dir, source) => {
    const out = `${dir}/cli.safetensors`;
    const log = console.log;
    const lines: string[] = [];
    console.log = (...a: unknown[]) => lines.push(a.join(" "));
    try {
      assert.equal(await pull([`${hub.base}/demo/tiny`, out, "--transport", "compressed"]), 0);
    } finally {
      console.log = log;
    }
    assert.match(lines.join("\n"), /compressed; sha256 [0-9a-f]{64} \(verified\)/);
    assert.deepEqual(await Deno.readFile(out), source);
    await assert.rejects(pull([`${hub.base}/demo/tiny`]), UsageError);
    await assert.rejects(pull([`${hub.base}/demo/tiny`, out, "--transport", "x"]), UsageError);
    const error = console.error;
    console.error = () => {};
    try {
      assert.equal(await pull([`${hub.base}/demo/missing`, `${dir}/m.safetensors`]), 1);
    } finally {
      console.error = error;
    }
  }));
