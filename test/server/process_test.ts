/**
 * The server as a process: one server per folder, `kill -9` during uploads and publishes (the old
 * tree stays served, the next start removes every leftover), and graceful SIGTERM.
 * @module
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { withTempDir } from "../helpers/container.ts";
import { publishFiles, type RepoFile, splitSafetensors } from "../helpers/repos.ts";
import { runServer, type ServerProcess, spawnServer } from "../helpers/server_process.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { ORIGINAL } from "./harness.ts";

const TOKEN = "tok";
const enc = new TextEncoder();

async function withProcess(
  dir: string,
  fn: (s: ServerProcess) => Promise<void>,
): Promise<void> {
  const s = await spawnServer(dir, ["--token", TOKEN]);
  try {
    await fn(s);
  } finally {
    await s.kill("SIGKILL");
  }
}

const scratch = (dir: string) => [...Deno.readDirSync(`${dir}/.tmp`)].map((e) => e.name);

/** A safetensors file big enough that its upload and packing take a while. */
function bigModel(seed: number): Uint8Array {
  const bytes = buildSafetensors([
    { name: "model.layers.0.w", dtype: "F32", shape: [1024, 1024] },
    { name: "model.layers.1.w", dtype: "F32", shape: [1024, 1024] },
  ]);
  // Vary the data so every version is new content.
  for (let i = bytes.length - 8 * 1024 * 1024; i < bytes.length; i += 4093) bytes[i] ^= seed;
  return bytes;
}

/** The tree main serves: path → SHA-256 of the bytes resolve returns. */
async function servedTree(url: string, id: string): Promise<Map<string, string>> {
  const tree = await (await fetch(`${url}/api/models/${id}/tree/main?recursive=true`)).json();
  const out = new Map<string, string>();
  for (const e of tree) {
    if (e.type !== "file") continue;
    const r = await fetch(`${url}/${id}/resolve/main/${e.path}`);
    out.set(e.path, sha256Hex(new Uint8Array(await r.arrayBuffer())));
  }
  return out;
}

const treeOf = (files: readonly RepoFile[]) =>
  new Map(files.map((f) => [f.path, sha256Hex(f.bytes)] as [string, string]));

Deno.test("process: a second server on the same folder is refused with one line and exit code 1", async () => {
  await withTempDir(async (dir) => {
    await withProcess(dir, async () => {
      const second = await runServer(["--models", dir, "--port", "0", "--no-demo"]);
      assert.equal(second.code, 1);
      const lines = second.stderr.trim().split("\n");
      assert.equal(lines.length, 1, second.stderr);
      assert.match(lines[0], /^error: .* is in use by another Tessera process \(pid \d+\)/);
    });
  });
});

Deno.test("process: a busy port is one line and exit code 1", async () => {
  await withTempDir(async (dir) => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const r = await runServer(["--models", dir, "--port", String(taken.addr.port), "--no-demo"]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /^error: .*[Aa]ddr.*in use.*--port/);
    } finally {
      taken.close();
    }
  });
});

Deno.test("process: kill -9 during an upload leaves the old tree served, and .tmp empty after restart", async () => {
  await withTempDir(async (dir) => {
    const old = [{ path: "config.json", bytes: enc.encode('{"v":1}') }];
    await withProcess(dir, async (s) => {
      assert.equal((await publishFiles(s.url, TOKEN, "acme/k", old)).status, 201);
      // An upload that sends half its body, then stalls: the server is killed meanwhile.
      const big = bigModel(1);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (sent >= big.length / 2) return await new Promise(() => {}); // stall
          c.enqueue(big.subarray(sent, sent + 65536));
          sent += 65536;
        },
      });
      const upload = fetch(`${s.url}/v1/models/acme/k/files/model.safetensors`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${TOKEN}` },
        body,
      }).catch((e) => e);
      while (scratch(dir).length === 0 || sent < big.length / 2) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(scratch(dir).length > 0, "the partial upload is in .tmp");
      await s.kill("SIGKILL");
      await upload;
    });
    await withProcess(dir, async (s) => {
      assert.deepEqual(scratch(dir), [], "the restart removed the partial upload");
      assert.deepEqual(await servedTree(s.url, "acme/k"), treeOf(old));
    });
  });
});

Deno.test("process: kill -9 at points of a multi-file publish: the old tree or the new, never a mix", async () => {
  await withTempDir(async (dir) => {
    const v1: RepoFile[] = [
      ...splitSafetensors(ORIGINAL, 3),
      { path: "config.json", bytes: enc.encode('{"v":1}') },
    ];
    await withProcess(dir, async (s) => {
      assert.equal((await publishFiles(s.url, TOKEN, "acme/a", v1)).status, 201);
    });
    let current = treeOf(v1);
    const outcomes: string[] = [];
    // Each round publishes a new version (two big shards, a changed index and config) with the
    // server killed after a growing delay: during the uploads, the packing, or the commit.
    for (const [round, delayMs] of [40, 250, 700, 1500, 3000, 6000].entries()) {
      const next: RepoFile[] = [
        { path: "model-00001-of-00002.safetensors", bytes: bigModel(round + 2) },
        { path: "model-00002-of-00002.safetensors", bytes: bigModel(round + 50) },
        { path: "model.safetensors.index.json", bytes: enc.encode(`{"round":${round}}`) },
        { path: "config.json", bytes: enc.encode(`{"v":${round + 2}}`) },
      ];
      await withProcess(dir, async (s) => {
        const publish = publishFiles(s.url, TOKEN, "acme/a", next, { replace: true }).catch((e) =>
          e
        );
        await new Promise((r) => setTimeout(r, delayMs));
        await s.kill("SIGKILL");
        await publish;
      });
      await withProcess(dir, async (s) => {
        assert.deepEqual(scratch(dir), [], `round ${round}: .tmp is empty after the restart`);
        const served = await servedTree(s.url, "acme/a");
        const now = treeOf(next);
        const same = (a: Map<string, string>, b: Map<string, string>) =>
          a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
        assert.ok(
          same(served, current) || same(served, now),
          `round ${round} (${delayMs} ms): a tree that is neither the old nor the new one`,
        );
        if (same(served, now)) current = now;
        outcomes.push(`${delayMs} ms: ${same(served, now) ? "new" : "old"}`);
      });
    }
    console.log(`kill -9 points and the tree served after: ${outcomes.join(", ")}`);
  });
});

Deno.test("process: SIGTERM lets a response in flight finish, refuses new work, and exits 0", async () => {
  await withTempDir(async (dir) => {
    const big = bigModel(9);
    const s = await spawnServer(dir, ["--token", TOKEN]);
    try {
      assert.equal(
        (await publishFiles(s.url, TOKEN, "acme/t", [{ path: "m.safetensors", bytes: big }]))
          .status,
        201,
      );
      // A download that has started and is read slowly.
      const res = await fetch(`${s.url}/acme/t/resolve/main/m.safetensors`);
      const reader = res.body!.getReader();
      const first = await reader.read();
      s.child.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 300));
      // New connections are refused once the listener has closed.
      const late = await fetch(`${s.url}/healthz`).then((r) => r.status, () => "refused");
      assert.equal(late, "refused");
      const parts = [first.value!];
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        parts.push(r.value);
        await new Promise((r) => setTimeout(r, 1));
      }
      const got = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) got.set(p, (at += p.length) - p.length);
      assert.equal(sha256Hex(got), sha256Hex(big), "the download in flight completed");
      const status = await s.kill("SIGTERM");
      assert.equal(status.code, 0, s.output());
      assert.match(s.output(), /SIGTERM: shutting down/);
      assert.deepEqual(scratch(dir), []);
    } finally {
      await s.kill("SIGKILL");
    }
  });
});
