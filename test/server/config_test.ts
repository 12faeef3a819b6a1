import assert from "node:assert/strict";
import { ConfigError, parseServerArgs } from "../../src/server/config.ts";

Deno.test("config: flags, environment and defaults", () => {
  const d = parseServerArgs([], {});
  assert.equal(d.modelsDir, "./models");
  assert.equal(d.port, 8080);
  assert.equal(d.host, "127.0.0.1");
  assert.equal(d.cacheBytes, 256 << 20);
  assert.equal(d.token, null);
  assert.equal(d.maxUploadBytes, 4096 * 2 ** 20);
  assert.ok(d.workers >= 1 && d.workers <= 4);
  assert.equal(d.demo, true);
  const e = parseServerArgs([], { PORT: "9000", TESSERA_MODELS: "/m", TESSERA_TOKEN: "t" });
  assert.deepEqual([e.port, e.modelsDir, e.token], [9000, "/m", "t"]);
  const f = parseServerArgs(
    [
      "--port",
      "0",
      "--models",
      "/x",
      "--cache-mb",
      "8",
      "--workers",
      "0",
      "--timeout-s",
      "2",
      "--no-demo",
      "--token",
      "k",
      "--max-upload-mb",
      "1",
    ],
    { PORT: "9000" },
  );
  assert.deepEqual(
    [f.port, f.modelsDir, f.cacheBytes, f.workers, f.timeoutMs, f.demo, f.token, f.maxUploadBytes],
    [0, "/x", 8 * 2 ** 20, 0, 2000, false, "k", 2 ** 20],
  );
  for (const args of [["--port", "x"], ["--port", "70000"], ["--workers", "-1"], ["--bogus"]]) {
    assert.throws(() => parseServerArgs(args, {}), ConfigError, args.join(" "));
  }
});
