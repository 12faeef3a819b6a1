/**
 * `codec/` and `src/container/` are browser-pure (issue 8): no module they reach uses `Deno.*`,
 * `node:` or FFI, so a browser loads the same reader the CLI and the server run; I/O and native
 * code are injected as a ByteSource and Backends. The WebAssembly binding is checked too, since a
 * browser page loads it beside them.
 * @module
 */
import assert from "node:assert/strict";
import { browserPureReport, tsFilesUnder } from "../helpers/browser_pure.ts";

const at = (path: string) => new URL(`../../${path}`, import.meta.url);

Deno.test("container: codec/, src/container/ and src/codec_wasm/ reach no Deno.*, node: or FFI", async () => {
  const entries = [
    ...tsFilesUnder(at("codec/")),
    ...tsFilesUnder(at("src/container/")),
    ...tsFilesUnder(at("src/codec_wasm/")),
  ];
  // Packages that run in a browser: zstddec (libzstd's decoder in WebAssembly, the portable zstd),
  // ml-matrix (SVD). The index is parsed without zod since 2a163d7.
  const { seen, problems } = await browserPureReport(entries, ["zstddec", "ml-matrix"]);
  assert.deepEqual(problems, []);
  assert.ok(seen.size >= entries.length && entries.length > 30, `${entries.length} entries`);
});
