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

Deno.test("demo model: the server process publishes it before its port opens", async () => {
  await withTempDir(async (dir) => {
    // A free port, taken by the server as soon as it can: the first answer it gives counts.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const main = new URL("../../src/server_main.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "--models", dir, "--port", String(port), "--workers", "0"],
      stdout: "null",
      stderr: "null",
      env: { NO_COLOR: "1", TESSERA_NATIVE: "0" },
    }).spawn();
    try {
      const base = `http://127.0.0.1:${port}`;
      for (let tries = 0;; tries++) {
        assert.ok(tries < 6000, "the server never answered");
        const up = await fetch(`${base}/healthz`).then(
          (r) => (r.body?.cancel(), r.ok),
          () => false,
        );
        if (up) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      // Healthy means ready: the demo is there from the first answer on (it used to be published
      // ~0.2 s after the port opened, and 404 meanwhile).
      const r = await fetch(`${base}/demo/stories260k/resolve/main/config.json`);
      assert.equal(r.status, 200, await r.text());
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
  });
});
