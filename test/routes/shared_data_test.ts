import assert from "node:assert/strict";
import { packFile } from "../../src/pack/write.ts";
import { SHARED_DATA } from "../helpers/repos.ts";
import { skipIf } from "../helpers/skip.ts";
import { sha256Hex, withServer } from "../server/harness.ts";

const DATA = SHARED_DATA;

function dataFiles(): string[] {
  try {
    return [...Deno.readDirSync(DATA)].map((e) => e.name).filter((n) => n.endsWith(".safetensors"))
      .sort();
  } catch {
    return [];
  }
}

const files = dataFiles();

const NAME = "shared data: the virtual model.safetensors of every real model is byte-identical";
Deno.test({
  name: NAME,
  ignore: skipIf(files.length === 0 && `${DATA} holds no .safetensors file`, NAME),
  async fn() {
    await withServer(
      async ({ url }) => {
        for (const f of files) {
          const stem = f.replace(/\.safetensors$/, "");
          const want = await sha256Hex(await Deno.readFile(`${DATA}/${f}`));
          const res = await fetch(`${url}/data/${stem}/resolve/main/model.safetensors`);
          assert.equal(res.status, 200, f);
          assert.equal(res.headers.get("ETag"), `"${want}"`, f);
          assert.equal(await sha256Hex(new Uint8Array(await res.arrayBuffer())), want, f);
        }
      },
      { workers: 2 },
      async (dir) => {
        for (const f of files) {
          const rev = `${dir}/data/${f.replace(/\.safetensors$/, "")}/main`;
          await Deno.mkdir(rev, { recursive: true });
          await packFile(`${DATA}/${f}`, `${rev}/model.tsr`, { mode: "fast" });
        }
      },
    );
  },
});
