/**
 * The baseline of `bench/serve_bench.ts`: a minimal static `Deno.serve` handler that serves one
 * file straight from disk, with HEAD and a single `Range` (the same handler as bench:transfer's
 * static baseline without nginx, `rangeResponse`).
 *
 * ```
 * deno run -A bench/serve_static.ts --file model.safetensors --port 8081
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { rangeResponse } from "./transfer/static_server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { file: { type: "string" }, port: { type: "string" } },
});
if (!values.file || !values.port) {
  console.error("usage: serve_static.ts --file PATH --port N");
  Deno.exit(2);
}
const path = values.file;
const size = (await Deno.stat(path)).size;

Deno.serve(
  { hostname: "127.0.0.1", port: Number(values.port), onListen: () => {} },
  (req) => rangeResponse(req, path, size),
);
console.log(`listening on ${values.port}`);
