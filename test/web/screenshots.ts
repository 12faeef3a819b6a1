/// <reference lib="dom" />
/**
 * `deno task screenshots`: writes a screenshot of each page under `docs/screenshots/`, taken in
 * headless Chromium against a server holding the browser tests' models: the model list, the
 * model page (light, dark, phone width), the tensor view, the download panel after a verified
 * download, and the status page with some traffic.
 * @module
 */
import { defaultConfig } from "../../src/server/config.ts";
import { startServer } from "../../src/server/server.ts";
import { launchBrowser, watchedPage } from "./browser.ts";
import { writeFixtureModels } from "./fixture_store.ts";

const OUT = new URL("../../docs/screenshots/", import.meta.url);

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "tessera_shots_" });
  const server = await startServer(
    defaultConfig({
      modelsDir: await (async () => {
        await writeFixtureModels(dir);
        return dir;
      })(),
      port: 0,
      host: "127.0.0.1",
      workers: 1,
      quiet: true,
      packInline: true,
    }),
    () => {},
  );
  const browser = await launchBrowser();
  const shot = async (
    name: string,
    path: string,
    options: { width?: number; height?: number; dark?: boolean; full?: boolean } = {},
    before?: (page: import("playwright-core").Page) => Promise<void>,
  ) => {
    const w = await watchedPage(browser, options);
    try {
      await w.page.goto(`${server.url}${path}`);
      await w.page.waitForLoadState("networkidle");
      await before?.(w.page);
      await w.page.waitForTimeout(300);
      const file = new URL(`${name}.png`, OUT).pathname;
      await w.page.screenshot({ path: file, fullPage: options.full ?? false });
      if (w.errors.length + w.failed.length > 0) {
        throw new Error(`${path}: ${[...w.errors, ...w.failed].join("; ")}`);
      }
      console.log(`docs/screenshots/${name}.png`);
    } finally {
      await w.page.context().close();
    }
  };
  try {
    await Deno.mkdir(OUT, { recursive: true });
    await shot("models", "/", { height: 420 });
    await shot("model", "/demo/stories260k", { height: 2300 });
    await shot("model-dark", "/demo/stories260k#bytes", { height: 1100, dark: true });
    await shot("model-phone", "/demo/stories260k", { width: 390, height: 1500 });
    const manifest = await (await fetch(`${server.url}/v1/models/shared/ppocrv4.bf16/manifest`))
      .json();
    const big = manifest.tensors.reduce((a: { chunks: number }, x: { chunks: number }) =>
      x.chunks > a.chunks ? x : a
    );
    await shot(
      "tensor",
      `/shared/ppocrv4.bf16/tensors/${encodeURIComponent(big.name)}?tile=1`,
      { height: 1500 },
      (page) => page.waitForSelector("#tile-badge.ok").then(() => {}),
    );
    await shot("download", "/shared/ppocrv4.bf16#download", { height: 900 }, async (page) => {
      await page.waitForFunction(() =>
        !(document.getElementById("download-start") as HTMLButtonElement).disabled
      );
      await Promise.all([page.waitForEvent("download"), page.click("#download-start")]);
      await page.locator("#download-panel").scrollIntoViewIfNeeded();
    });
    await shot("status", "/status", { height: 900 }, async (page) => {
      for (let i = 0; i < 8; i++) {
        await fetch(`${server.url}/shared/ppocrv4.bf16/resolve/main/model.safetensors`).then((r) =>
          r.arrayBuffer()
        );
        await page.waitForTimeout(600);
      }
    });
  } finally {
    await browser.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}
