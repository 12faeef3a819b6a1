/**
 * Variant revisions through `@huggingface/hub`, unmodified: `main@<variant>` downloads as a
 * standard safetensors file of dequantised weights, with its own digest and commit id, which
 * snapshots, the tree, model info, refs and commits agree on; a variant-only model's variant too.
 */
import assert from "node:assert/strict";
import {
  downloadFile,
  listCommits,
  listFiles,
  modelInfo,
  parseSafetensorsMetadata,
  snapshotDownload,
} from "@huggingface/hub";
import { readSafetensorsHeader } from "../../src/safetensors/parse.ts";
import { bufferReader } from "../../src/io/random_access.ts";
import { sha256Hex } from "../../src/hash/sha256.ts";
import { variantCommitId } from "../../src/server/variant_revisions.ts";
import { lossyEncodingOf } from "../../src/container/variant_index.ts";
import { openBytes, withTempDir } from "../helpers/container.ts";
import { FIXTURE_MODEL } from "../helpers/repos.ts";
import { EDGE_SPEC, installVariants, variantContainers } from "../helpers/variants.ts";
import { withServer } from "../server/harness.ts";

Deno.test("@huggingface/hub: a variant revision is a standard safetensors file of dequantised weights", async () => {
  const { full, edge } = await variantContainers();
  const c = await openBytes(full);
  const source = await Deno.readFile(FIXTURE_MODEL);
  const sourceHeader = await readSafetensorsHeader(bufferReader(source));
  await withServer(
    async ({ url }) => {
      const hubUrl = url;
      const repo = { type: "model" as const, name: "demo/var" };
      const head = await modelInfo({ name: "demo/var", hubUrl, additionalFields: ["sha"] });
      for (const v of c.index.variants!) {
        const revision = `main@${v.name}`;
        const blob = await downloadFile({ repo, path: "model.safetensors", revision, hubUrl });
        assert.ok(blob, revision);
        const bytes = new Uint8Array(await blob.arrayBuffer());
        // The original's header and size, every tensor dequantised to its dtype.
        assert.equal(bytes.length, source.length);
        assert.equal(sha256Hex(bytes), v.sha256, revision);
        const h = await readSafetensorsHeader(bufferReader(bytes));
        assert.deepEqual(h.tensors, sourceHeader.tensors);
        for (const t of c.index.tensors) {
          const e = lossyEncodingOf(t, v.name);
          const entry = h.tensors.find((x) => x.name === t.name)!;
          const data = bytes.subarray(h.dataStart + entry.begin, h.dataStart + entry.end);
          assert.equal(sha256Hex(data), e ? e.sha256 : t.sha256, `${revision} ${t.name}`);
        }
        // A slice is a range request, as the library makes for large files.
        const slice = await blob.slice(100, 5000).arrayBuffer();
        assert.deepEqual(new Uint8Array(slice), bytes.subarray(100, 5000));

        const meta = await parseSafetensorsMetadata({ repo, revision, hubUrl });
        assert.ok(!meta.sharded);
        assert.deepEqual(
          Object.keys(meta.header).filter((k) => k !== "__metadata__").sort(),
          [
            ...sourceHeader.tensors.map((t) => t.name),
          ].sort(),
        );

        // Its own commit id: model info, the tree's LFS oid, snapshots and commits agree.
        const id = variantCommitId(head.sha, v.name);
        const info = await modelInfo({
          name: "demo/var",
          revision,
          hubUrl,
          additionalFields: ["sha"],
        });
        assert.equal(info.sha, id);
        const files = await Array.fromAsync(listFiles({ repo, revision, hubUrl }));
        const model = files.find((f) => f.path === "model.safetensors")!;
        assert.equal(model.lfs?.oid, v.sha256);
        assert.equal(model.size, source.length);
        assert.ok(files.some((f) => f.path === "config.json"));
        const commits = await Array.fromAsync(listCommits({ repo, revision, hubUrl }));
        assert.equal(commits[0].oid, id);
        assert.equal(commits[1].oid, head.sha);
        await withTempDir(async (cacheDir) => {
          const folder = await snapshotDownload({ repo, revision, hubUrl, cacheDir });
          assert.match(folder, new RegExp(`snapshots/${id}$`));
          assert.equal(sha256Hex(await Deno.readFile(`${folder}/model.safetensors`)), v.sha256);
          // The lossless snapshot sits apart, under the stored commit.
          const plain = await snapshotDownload({ repo, hubUrl, cacheDir });
          assert.equal(
            sha256Hex(await Deno.readFile(`${plain}/model.safetensors`)),
            sha256Hex(source),
          );
        });
      }

      // The refs list every variant revision as a conversion of its branch.
      const refs = await (await fetch(`${url}/api/models/demo/var/refs`)).json();
      assert.deepEqual(
        refs.converts.map((r: { name: string }) => r.name),
        c.index.variants!.map((v) => `main@${v.name}`),
      );
      assert.equal(refs.converts[0].ref, `refs/convert/main@${c.index.variants![0].name}`);
      assert.equal(
        refs.converts[0].targetCommit,
        variantCommitId(head.sha, c.index.variants![0].name),
      );

      // A variant-only model: its variant revision downloads; its original cannot be rebuilt.
      const e = await openBytes(edge);
      const blob = await downloadFile({
        repo: { type: "model", name: "demo/edge" },
        path: "model.safetensors",
        revision: `main@${EDGE_SPEC}`,
        hubUrl,
      });
      assert.equal(
        sha256Hex(new Uint8Array(await blob!.arrayBuffer())),
        e.index.variants![0].sha256,
      );
      await assert.rejects(
        downloadFile({
          repo: { type: "model", name: "demo/edge" },
          path: "model.safetensors",
          hubUrl,
        }),
      );
      e.source.close();
    },
    {},
    installVariants,
  );
  c.source.close();
});
