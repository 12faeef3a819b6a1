/**
 * Stateless replicas over one bucket, as separate server processes on a loopback S3 server:
 * they serve identical bytes, a publish through one is seen by the other at once, two publishes
 * racing through both end with one winner (the other gets 412, or retries on the new head) and
 * never a mix; and the object store killed in the middle of a publish leaves the old revision
 * intact and orphans that `deno task gc` lists and removes.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import { FIXTURE_MODEL } from "../helpers/repos.ts";
import { startS3Server } from "../helpers/s3_server.ts";
import { type ServerProcess, spawnServer } from "../helpers/server_process.ts";

const TOKEN = "tok";
const auth = { Authorization: `Bearer ${TOKEN}` };
const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** A small valid model whose bytes depend on `seed`. */
function model(seed: number): Uint8Array {
  const data = new Uint8Array(64 * 96 * 2).map((_, i) => (i * 7 + seed * 13) & 255);
  return buildSafetensors([
    { name: "model.embed_tokens.weight", dtype: "BF16", shape: [64, 96], data },
    { name: "model.layers.0.w", dtype: "F32", shape: [4, 4] },
  ]);
}

async function bytesOf(url: string): Promise<{ status: number; body: Uint8Array; etag: string }> {
  const r = await fetch(url);
  return {
    status: r.status,
    body: new Uint8Array(await r.arrayBuffer()),
    etag: r.headers.get("etag") ?? "",
  };
}

async function putModel(base: string, id: string, bytes: Uint8Array, query = "") {
  const r = await fetch(`${base}/v1/models/${id}${query}`, {
    method: "PUT",
    headers: auth,
    body: bytes as Uint8Array<ArrayBuffer>,
  });
  return { status: r.status, body: await r.json(), v: bytes };
}

for (const conditional of [true, false]) {
  const mode = conditional ? "conditional" : "lease";
  Deno.test(`s3 replicas (${mode}): identical bytes, visible at once, racing publishes`, async () => {
    const s3 = await startS3Server({ conditional });
    const store = s3.freshStore();
    const replicas: ServerProcess[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        replicas.push(await spawnServer(store, ["--token", TOKEN], s3.env));
      }
      const [a, b] = replicas.map((r) => r.url);
      const v0 = await Deno.readFile(FIXTURE_MODEL);
      const first = await putModel(a, "acme/m", v0);
      assert.equal(first.status, 201, JSON.stringify(first.body));
      // Seen through the other replica at once, by branch and by commit id.
      for (const rev of ["main", first.body.commit as string]) {
        const x = await bytesOf(`${a}/acme/m/resolve/${rev}/model.safetensors`);
        const y = await bytesOf(`${b}/acme/m/resolve/${rev}/model.safetensors`);
        assert.equal(x.status, 200);
        assert.equal(y.status, 200);
        assert.equal(sha256Hex(y.body), sha256Hex(v0), `replica b serves ${rev}`);
        assert.deepEqual(x.body, y.body, "both replicas serve identical bytes");
      }
      const t1 = await bytesOf(
        `${a}/v1/models/acme/m/tensors/model.layers.0.self_attn.q_proj.weight`,
      );
      const t2 = await bytesOf(
        `${b}/v1/models/acme/m/tensors/model.layers.0.self_attn.q_proj.weight`,
      );
      assert.equal(t1.status, 200);
      assert.deepEqual(t1.body, t2.body);

      // Race 1: two new versions at once, no precondition. Readers on both replicas never see
      // bytes of no version; the loser retries on the new head, so both commits land.
      const versions = [model(1), model(2), model(3), model(4)];
      const allowed = new Set([v0, ...versions].map((v) => sha256Hex(v)));
      let stop = false, reads = 0;
      const reader = (async () => {
        while (!stop) {
          for (const base of [a, b]) {
            const r = await bytesOf(`${base}/acme/m/resolve/main/model.safetensors`);
            assert.equal(r.status, 200, new TextDecoder().decode(r.body).slice(0, 300));
            const got = sha256Hex(r.body);
            assert.ok(allowed.has(got), `a read saw bytes of no published version (${got})`);
            assert.equal(r.etag, `"${got}"`, "the ETag names the bytes sent");
            reads++;
          }
        }
      })().then(() => null, (e) => e);
      const free = await Promise.all([
        putModel(a, "acme/m", versions[0], "?message=a"),
        putModel(b, "acme/m", versions[1], "?message=b"),
      ]);
      for (const r of free) assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r));
      const history = await (await fetch(`${a}/api/models/acme/m/commits/main`)).json();
      const titles = history.map((c: { title: string }) => c.title);
      assert.ok(titles.includes("a") && titles.includes("b"), `both landed: ${titles}`);
      const head = (await (await fetch(`${b}/api/models/acme/m/revision/main`)).json()).sha;
      assert.ok(free.some((r) => r.body.commit === head), "the head is one of the two");

      // Race 2: both replace model.safetensors only if it is still the current one: one wins,
      // the other gets 412 and changes nothing.
      const current = sha256Hex(free.find((r) => r.body.commit === head)!.v);
      const guarded = await Promise.all([a, b].map(async (base, i) => {
        const r = await fetch(`${base}/v1/models/acme/m/files/model.safetensors`, {
          method: "PUT",
          headers: { ...auth, "If-Match": `"${current}"` },
          body: versions[2 + i] as Uint8Array<ArrayBuffer>,
        });
        await r.body?.cancel();
        return r.status;
      }));
      assert.deepEqual(guarded.toSorted(), [200, 412], `one winner: ${guarded}`);
      stop = true;
      const readFailure = await reader;
      if (readFailure) throw readFailure;
      assert.ok(reads > 0);
      const fa = await bytesOf(`${a}/acme/m/resolve/main/model.safetensors`);
      const fb = await bytesOf(`${b}/acme/m/resolve/main/model.safetensors`);
      assert.deepEqual(fa.body, fb.body, "the replicas agree after the race");
    } finally {
      for (const r of replicas) await r.kill("SIGTERM");
      await s3.stop();
    }
  });
}

/** Whether `name` in `dir` is an s3rver object file whose metadata file is whole JSON. */
function wholeS3rverObject(dir: string, name: string): boolean {
  if (!name.endsWith("._S3rver_object")) return false;
  const metadata = `${dir}/${name.slice(0, -"object".length)}metadata.json`;
  try {
    JSON.parse(Deno.readTextFileSync(metadata));
    return true;
  } catch {
    return false;
  }
}

Deno.test("s3: the object store killed mid-publish leaves the old revision; gc removes orphans", async () => {
  // Lease mode: the ref switch waits about a second for its lease, a window in which to kill.
  let s3 = await startS3Server();
  const store = s3.freshStore();
  const prefixDir = `${s3.dir}/${s3.bucket}/${store.split("/").slice(3).join("/")}`;
  const env = s3.env;
  let replica: ServerProcess | null = null;
  try {
    replica = await spawnServer(store, ["--token", TOKEN], env);
    const v0 = await Deno.readFile(FIXTURE_MODEL);
    const first = await putModel(replica.url, "acme/k", v0);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const commitsDir = `${prefixDir}/repos/acme/k/commits`;
    const before = new Set([...Deno.readDirSync(commitsDir)].map((e) => e.name));

    const publishing = putModel(replica.url, "acme/k", model(5)).catch((e) => e);
    // Kill the store once the new commit object is written, before the ref can switch. Written
    // means its metadata file is whole too: s3rver creates the object's file first and writes the
    // metadata last, and a kill inside that write leaves a torn JSON file on which every later
    // listing fails with 500 InternalError (seen under load), a fault of the emulator's own
    // storage that no S3 store has: an object there is whole or absent.
    for (const deadline = Date.now() + 60_000;;) {
      const now = [...Deno.readDirSync(commitsDir)].map((e) => e.name);
      if (now.some((n) => !before.has(n) && wholeS3rverObject(commitsDir, n))) break;
      assert.ok(Date.now() < deadline, "the publish never wrote its commit");
      await new Promise((r) => setTimeout(r, 2));
    }
    await s3.kill();
    const failed = await publishing;
    assert.ok(
      failed instanceof Error || failed.status >= 500,
      `the publish cannot complete: ${JSON.stringify(failed)}`,
    );
    s3 = await startS3Server({ port: s3.port, dir: s3.dir });
    // The old revision, intact, through the same replica.
    const now = await bytesOf(`${replica.url}/acme/k/resolve/main/model.safetensors`);
    assert.equal(now.status, 200);
    assert.equal(sha256Hex(now.body), sha256Hex(v0), "the old revision is served");

    // gc lists the orphans (dry run), then removes them; the revision still serves.
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "gc", "--store", store, ...args],
        env: { ...env, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
      return text;
    };
    const dry = await run("--dry-run", "--grace-h", "0");
    assert.match(dry, /would remove repos\/acme\/k\/commits\/[0-9a-f]{40}\.json/);
    assert.match(dry, /would remove blobs\/[0-9a-f]{64}/);
    const kept = await run();
    assert.match(kept, /removed 0 commits.*kept [1-9]\d* unreferenced objects younger/s);
    const removed = await run("--grace-h", "0");
    assert.match(removed, /removed repos\/acme\/k\/commits\//);
    assert.match(await run("--grace-h", "0"), /removed 0 commits, 0 contents/);
    const after = await bytesOf(`${replica.url}/acme/k/resolve/main/model.safetensors`);
    assert.equal(sha256Hex(after.body), sha256Hex(v0));
    const again = await putModel(replica.url, "acme/k", model(5));
    assert.equal(again.status, 200, JSON.stringify(again.body));
  } finally {
    await replica?.kill("SIGTERM");
    await s3.stop();
  }
});
