/**
 * A publish interrupted at every write it makes: the storage "crashes" (the process dies) just
 * before, or just after, its n-th write; the store is then opened again as after a restart. The
 * branch must hold the old tree or the new one, never a mix, and the scratch folder must be empty.
 * @module
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { openFileObjectStore } from "../../src/store/file_object_store.ts";
import type { ObjectStore } from "../../src/store/object_store.ts";
import { openRepoStore, type RepoStore } from "../../src/store/repo_store.ts";
import { withTempDir } from "../helpers/container.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";

class Crash extends Error {}

/** `objects` with its `n`-th write failing, before or after it is done. */
function crashing(objects: ObjectStore, n: number, after: boolean): ObjectStore {
  let count = 0;
  const hit = async <T>(op: () => Promise<T>): Promise<T> => {
    count++;
    if (count === n && !after) throw new Crash(`crash before write ${n}`);
    const r = await op();
    if (count === n && after) throw new Crash(`crash after write ${n}`);
    return r;
  };
  return {
    ...objects,
    putObject: (k, s) => hit(() => objects.putObject(k, s)),
    putRef: (k, b, c) => hit(() => objects.putRef(k, b, c)),
    deleteRef: (k, e) => hit(() => objects.deleteRef(k, e)),
    deleteObject: (k) => hit(() => objects.deleteObject(k)),
  };
}

const enc = new TextEncoder();
const shard = (n: number) =>
  buildSafetensors([{ name: `model.layers.${n}.w`, dtype: "F32", shape: [16, 16 + n] }]);
const V1 = [
  { path: "model-00001-of-00002.safetensors", bytes: shard(1) },
  { path: "model-00002-of-00002.safetensors", bytes: shard(2) },
  { path: "config.json", bytes: enc.encode('{"v":1}') },
];
const V2 = [
  { path: "model-00001-of-00002.safetensors", bytes: shard(3) },
  { path: "model-00002-of-00002.safetensors", bytes: shard(4) },
  { path: "config.json", bytes: enc.encode('{"v":2}') },
];

async function publish(s: RepoStore, files: typeof V1) {
  const staged = [];
  for (const f of files) {
    staged.push({
      path: f.path,
      content: await s.receive(new Blob([f.bytes as Uint8Array<ArrayBuffer>]).stream(), {
        maxBytes: 1 << 20,
      }),
    });
  }
  return await s.publish("acme", "m", "main", { title: "publish", files: staged });
}

const tree = (files: typeof V1) => files.map((f) => `${f.path}=${sha256Hex(f.bytes)}`).sort();

Deno.test("crash points: a publish cut at any write leaves the old tree or the new one", async () => {
  let writes = 0;
  for (let n = 1;; n++) {
    for (const after of [false, true]) {
      const done = await withTempDir(async (dir) => {
        const first = await openRepoStore({ store: dir, packInline: true });
        await publish(first, V1);
        await first.close();
        const objects = await openFileObjectStore(dir);
        const s = await openRepoStore({ store: crashing(objects, n, after), packInline: true });
        let crashed = false;
        try {
          await publish(s, V2);
        } catch (e) {
          if (!(e instanceof Crash)) throw e;
          crashed = true;
        } finally {
          await s.close();
        }
        // The restart.
        const again = await openRepoStore({ store: dir, packInline: true });
        try {
          const rev = await again.reader.resolve("acme", "m", "main");
          const got = rev.commit.files.map((f) => `${f.path}=${f.sha256}`).sort();
          const which = JSON.stringify(got) === JSON.stringify(tree(V1))
            ? "old"
            : JSON.stringify(got) === JSON.stringify(tree(V2))
            ? "new"
            : "mix";
          assert.notEqual(which, "mix", `write ${n} ${after ? "after" : "before"}: ${got}`);
          if (!crashed) assert.equal(which, "new");
          for (const f of rev.commit.files) {
            if (!f.container) await again.readRaw(f, 1 << 20); // its content is there
          }
          assert.deepEqual([...Deno.readDirSync(`${dir}/.tmp`)], []);
        } finally {
          await again.close();
        }
        return !crashed;
      });
      if (done) {
        writes = n - 1;
        break;
      }
    }
    if (writes > 0) break;
  }
  assert.equal(writes, 7, "2 containers and their records, 1 file, the commit, the refs");
  console.log(`publish interrupted before and after each of its ${writes} writes`);
});
