import assert from "node:assert/strict";
import { ensureDemoModel } from "../../src/server/demo_model.ts";
import { listModels } from "../../src/store/layout.ts";

Deno.test("demo model: packed into an empty models folder, left alone otherwise", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera_demo_" });
  try {
    assert.equal(await ensureDemoModel(dir), `${dir}/demo/stories260k/main/model.tsr`);
    assert.deepEqual(await listModels(dir), [{ id: "demo/stories260k", revisions: ["main"] }]);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/demo/stories260k/main/config.json`));
    assert.equal(config.model_type, "llama");
    assert.equal(await ensureDemoModel(dir), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
