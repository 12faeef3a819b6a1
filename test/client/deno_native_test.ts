/**
 * `loadModelNative` against the real server: every tensor exact, with decode workers (made once
 * the first layer is out) and without.
 * @module
 */
import assert from "node:assert/strict";
import { loadModelNative } from "../../src/client/deno_native.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { sourceTensorBytes, withTempDir } from "../helpers/container.ts";
import { packModel, startHub } from "./hub_server.ts";

const FIXTURE = new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url).pathname;

Deno.test("loadModelNative: every tensor exact, in load order, with workers and without", () =>
  withTempDir(async (dir) => {
    const m = await packModel(`${dir}/models`, "demo/native", FIXTURE, 4096);
    const c = await openContainerFile(m.container);
    c.source.close();
    const source = await Deno.readFile(FIXTURE);
    const hub = await startHub(`${dir}/models`);
    try {
      for (const workers of [2, 0]) {
        const layers: string[] = [];
        let n = 0;
        for await (
          const t of loadModelNative(`${hub.base}/v1/models/demo/native`, {
            transport: "compressed",
            workers,
          })
        ) {
          assert.deepEqual(t.bytes, sourceTensorBytes(source, c.index, t.name));
          if (layers.at(-1) !== t.layer) layers.push(t.layer);
          n++;
        }
        assert.equal(n, c.index.tensors.length);
        assert.deepEqual(layers, c.index.layers);
      }
    } finally {
      await hub.close();
    }
  }));
