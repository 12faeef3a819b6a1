import assert from "node:assert/strict";
import {
  downloadFile,
  fileDownloadInfo,
  modelInfo,
  parseSafetensorsMetadata,
} from "@huggingface/hub";
import { get, ORIGINAL, sha256Hex, withServer } from "../server/harness.ts";

const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

Deno.test("hf resolve: ETag, X-Linked-Etag/Size, X-Repo-Commit, Range probe", async () => {
  await withServer(async ({ url }) => {
    const sha = await sha256Hex(ORIGINAL);
    const probe = await get(`${url}/demo/stories260k/resolve/main/model.safetensors`, {
      Range: "bytes=0-0",
      Accept: "application/vnd.xet-fileinfo+json, */*",
    });
    assert.equal(probe.status, 206);
    assert.equal(probe.headers.get("Content-Range"), `bytes 0-0/${ORIGINAL.length}`);
    assert.equal(probe.headers.get("ETag"), `"${sha}"`);
    assert.equal(probe.headers.get("X-Linked-Etag"), `"${sha}"`);
    assert.equal(probe.headers.get("X-Linked-Size"), String(ORIGINAL.length));
    assert.equal(probe.headers.get("Content-Type"), "application/octet-stream");
    const commit = probe.headers.get("X-Repo-Commit")!;
    assert.match(commit, /^[0-9a-f]{40}$/);
    // The commit id resolves as a revision, as Hub clients use it.
    const byCommit = await get(`${url}/demo/stories260k/resolve/${commit}/model.safetensors`);
    assert.equal(byCommit.status, 200);
    assert.equal(await sha256Hex(byCommit.body), sha);
    // HEAD resolves as the default branch.
    assert.equal((await get(`${url}/demo/stories260k/resolve/HEAD/config.json`)).status, 200);
    const missing = await get(`${url}/demo/stories260k/resolve/main/tokenizer.json`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("X-Error-Code"), "EntryNotFound");
    assert.equal(
      (await get(`${url}/demo/nope/resolve/main/config.json`)).headers.get("X-Error-Code"),
      "RepoNotFound",
    );
    assert.equal(
      (await get(`${url}/demo/stories260k/resolve/v9/config.json`)).headers.get("X-Error-Code"),
      "RevisionNotFound",
    );
    const raw = await get(`${url}/demo/stories260k/raw/main/model.safetensors`);
    assert.equal(
      new TextDecoder().decode(raw.body),
      `version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\nsize ${ORIGINAL.length}\n`,
    );
    const rawConfig = await get(`${url}/demo/stories260k/raw/main/config.json`);
    assert.equal(json(rawConfig.body).model_type, "llama");
  });
});

Deno.test("hf api: model info with siblings, revision info, tree", async () => {
  await withServer(async ({ url }) => {
    const sha = await sha256Hex(ORIGINAL);
    const info = json((await get(`${url}/api/models/demo/stories260k`)).body);
    assert.equal(info.id, "demo/stories260k");
    assert.equal(info.modelId, "demo/stories260k");
    assert.equal(info.private, false);
    assert.match(info.sha, /^[0-9a-f]{40}$/);
    // Only the repo's own files: the container stays on the /v1 routes.
    assert.deepEqual(info.siblings.map((s: { rfilename: string }) => s.rfilename), [
      "config.json",
      "model.safetensors",
    ]);
    assert.deepEqual(info.siblings[1].lfs, {
      sha256: sha,
      size: ORIGINAL.length,
      pointerSize: info.siblings[1].lfs.pointerSize,
    });
    assert.equal(info.config.model_type, "llama");
    assert.equal(info.safetensors.total, 260032);
    const rev = json((await get(`${url}/api/models/demo/stories260k/revision/main`)).body);
    assert.equal(rev.sha, info.sha);
    const head = json((await get(`${url}/api/models/demo/stories260k/revision/HEAD`)).body);
    assert.equal(head.sha, info.sha);
    const tree = json((await get(`${url}/api/models/demo/stories260k/tree/main`)).body);
    assert.equal(tree[1].path, "model.safetensors");
    assert.equal(tree[1].lfs.oid, sha);
    assert.equal(tree[1].size, ORIGINAL.length, "the real size, not the pointer's");
    const list = json((await get(`${url}/api/models?search=stories`)).body);
    assert.equal(list[0].id, "demo/stories260k");
  });
});

Deno.test("@huggingface/hub: downloadFile, fileDownloadInfo, modelInfo and parseSafetensorsMetadata", async () => {
  await withServer(async ({ url }) => {
    const repo = { type: "model" as const, name: "demo/stories260k" };
    const info = await fileDownloadInfo({ repo, path: "model.safetensors", hubUrl: url });
    assert.equal(info?.size, ORIGINAL.length);
    assert.equal(info?.etag, `"${await sha256Hex(ORIGINAL)}"`);
    const blob = await downloadFile({ repo, path: "model.safetensors", hubUrl: url });
    assert.ok(blob);
    const bytes = new Uint8Array(await blob.arrayBuffer());
    assert.equal(await sha256Hex(bytes), await sha256Hex(ORIGINAL));
    const slice = new Uint8Array(await blob.slice(100, 200).arrayBuffer());
    assert.deepEqual(slice, ORIGINAL.subarray(100, 200));
    assert.equal(await downloadFile({ repo, path: "missing.json", hubUrl: url }), null);
    const meta = await parseSafetensorsMetadata({
      repo,
      hubUrl: url,
      computeParametersCount: true,
    });
    assert.equal(meta.sharded, false);
    assert.equal(Object.keys(meta.header).length, 48);
    assert.deepEqual(meta.parameterCount, { BF16: 260032 });
    const mi = await modelInfo({ name: "demo/stories260k", hubUrl: url });
    assert.equal(mi.name, "demo/stories260k");
  });
});
