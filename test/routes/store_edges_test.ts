/**
 * Writes the store refuses without changing anything: a file for a model that does not exist
 * (it could fill the disk with folders no listing shows), and a plain file in the store where a
 * repo's folder is expected (once a 500 `NotADirectory`).
 * @module
 */
import assert from "node:assert/strict";
import { get, ORIGINAL, withServer } from "../server/harness.ts";
import { skipIf } from "../helpers/skip.ts";
import { S3_SUITE } from "../helpers/store_under_test.ts";

const TOKEN = "tok";
const auth = { Authorization: `Bearer ${TOKEN}` };

/** Every path under `dir` (files and folders), sorted; the lock's contents aside. */
function snapshot(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${dir}/${prefix}`)) {
    const rel = `${prefix}${e.name}`;
    out.push(e.isDirectory ? `${rel}/` : `${rel} ${Deno.statSync(`${dir}/${rel}`).size}`);
    if (e.isDirectory) out.push(...snapshot(dir, `${rel}/`));
  }
  return out.sort();
}

async function put(url: string, body: BodyInit) {
  const r = await fetch(url, { method: "PUT", headers: auth, body });
  return { status: r.status, body: await r.json() };
}

Deno.test("store edges: a non-model file only goes into an existing model's branch", async () => {
  await withServer(async ({ url, dir }) => {
    const before = snapshot(dir);
    const cases: [string, number, string][] = [
      ["/v1/models/NUL/stories/files/config.json?revision=main", 404, "model_not_found"],
      ["/v1/models/t/stories/files/config.json", 404, "model_not_found"],
      ["/v1/models/demo/stories260k/files/config.json?revision=nope", 404, "revision_not_found"],
      ["/v1/models/t/stories/files/.tmp/x.json", 404, "model_not_found"],
      ["/v1/models/demo/stories260k/files/.git/x.json", 400, "bad_name"],
    ];
    for (const [path, status, kind] of cases) {
      const r = await put(`${url}${path}`, '{"a":1}');
      assert.equal(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, kind, path);
    }
    assert.deepEqual(snapshot(dir), before, "nothing was written");
    // A model file may create the model; then its other files may follow.
    assert.equal(
      (await put(`${url}/v1/models/t/stories/files/model.safetensors`, ORIGINAL)).status,
      201,
    );
    assert.equal((await put(`${url}/v1/models/t/stories/files/config.json`, "{}")).status, 201);
  }, { token: TOKEN });
});

const PATH_CONFLICT =
  "store edges: a plain file where a repo folder is expected: 409 path_conflict, nothing changes";
Deno.test({
  name: PATH_CONFLICT,
  ignore: skipIf(
    S3_SUITE && "a folder store's own failure: object keys have no folders",
    PATH_CONFLICT,
  ),
}, async () => {
  await withServer(async ({ url, dir }) => {
    await Deno.writeTextFile(`${dir}/repos/t`, "not a folder");
    await Deno.mkdir(`${dir}/repos/u`, { recursive: true });
    await Deno.writeTextFile(`${dir}/repos/u/canary.json`, "not a folder either");
    const before = snapshot(dir);
    for (const id of ["t/canary.json", "u/canary.json"]) {
      const up = await put(`${url}/v1/models/${id}`, ORIGINAL);
      assert.equal(up.status, 409, `${id}: ${JSON.stringify(up.body)}`);
      assert.equal(up.body.error, "path_conflict");
      const read = await get(`${url}/v1/models/${id}/manifest`);
      assert.equal(read.status, 404, id);
      const hf = await get(`${url}/${id}/resolve/main/config.json`);
      assert.equal(hf.status, 404, id);
    }
    const list = await get(`${url}/v1/models`);
    assert.equal(list.status, 200);
    // The uploads' scratch files are gone; the blocking files are untouched.
    assert.deepEqual(snapshot(dir), before);
  }, { token: TOKEN });
});
