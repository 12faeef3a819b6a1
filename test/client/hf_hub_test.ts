/**
 * `@huggingface/hub`, unmodified, with its hub URL pointed at the server.
 * @module
 */
import assert from "node:assert/strict";
import { downloadFile, parseSafetensorsMetadata } from "@huggingface/hub";
import { readSafetensorsHeader } from "../../src/safetensors/parse.ts";
import { bufferReader } from "../../src/io/random_access.ts";
import { withTempDir } from "../helpers/container.ts";
import { packModel, startHub } from "./hub_server.ts";

const FIXTURE = new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url).pathname;

Deno.test("@huggingface/hub: downloadFile and parseSafetensorsMetadata against the server", () =>
  withTempDir(async (dir) => {
    await packModel(`${dir}/models`, "demo/tiny", FIXTURE);
    const hub = await startHub(`${dir}/models`);
    try {
      const source = await Deno.readFile(FIXTURE);
      const blob = await downloadFile({
        repo: "demo/tiny",
        path: "model.safetensors",
        hubUrl: hub.base,
      });
      assert.ok(blob);
      assert.equal(blob.size, source.length);
      assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), source);
      // A slice is a range request, as the library makes for large files.
      assert.deepEqual(
        new Uint8Array(await blob.slice(100, 5000).arrayBuffer()),
        source.slice(100, 5000),
      );

      const parsed = await parseSafetensorsMetadata({ repo: "demo/tiny", hubUrl: hub.base });
      assert.equal(parsed.sharded, false);
      const expected = await readSafetensorsHeader(bufferReader(source));
      assert.ok(!parsed.sharded);
      const header = parsed.header;
      assert.equal(
        Object.keys(header).filter((k) => k !== "__metadata__").length,
        expected.tensors.length,
      );
      for (const t of expected.tensors) {
        const got = header[t.name];
        assert.ok(got, t.name);
        assert.equal(got.dtype, t.dtype);
        assert.deepEqual(got.shape, t.shape);
        assert.deepEqual(got.data_offsets, [t.begin, t.end]);
      }

      const missing = await downloadFile({ repo: "demo/tiny", path: "nope.bin", hubUrl: hub.base })
        .catch((e) => e);
      assert.ok(missing === null || missing instanceof Error);
    } finally {
      await hub.close();
    }
  }));
