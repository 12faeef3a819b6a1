import assert from "node:assert/strict";
import { ensureDemoModel } from "../../src/server/demo_model.ts";
import { openRepoStore } from "../../src/store/repo_store.ts";
import { withTempDir } from "../helpers/container.ts";

Deno.test("demo model: published into an empty store, left alone otherwise", async () => {
  await withTempDir(async (dir) => {
    const store = await openRepoStore({ store: dir, packInline: true });
    try {
      assert.equal(await ensureDemoModel(store), "demo/stories260k");
      assert.deepEqual(await store.reader.list(), [{ id: "demo/stories260k", branches: ["main"] }]);
      const rev = await store.reader.resolve("demo", "stories260k", "main");
      const config = rev.commit.files.find((f) => f.path === "config.json")!;
      assert.equal(
        JSON.parse(new TextDecoder().decode(await store.readRaw(config, 1000))).model_type,
        "llama",
      );
      assert.equal(await ensureDemoModel(store), null);
    } finally {
      await store.close();
    }
  });
});
