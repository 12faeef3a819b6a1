/**
 * `loadModel` as a whole process, for `bench:transfer`: loads the model at URL tensor by tensor
 * (each verified against its SHA-256 by the client) and prints one JSON line per event, so that
 * the parent timestamps them on its clock and this process reports its own in-process times.
 * Uses `loadModelNative` (native Zstandard) when the client has it, as a Deno user would, else
 * `loadModel`.
 *
 * ```
 * deno run -A bench/transfer/load_model_child.ts http://127.0.0.1:18501/v1/models/bench/x \
 *   --first-layer-tensors 1 [--transport auto|decoded|compressed] [--concurrency N]
 * ```
 * Lines: `{"event":"first-layer",...}` once the first N tensors (the first layer in load order)
 * are in, then `{"event":"done",...}`. Times are ms: `sinceStartMs` from process start
 * (`performance.now()`), `inProcessMs` from the `loadModel` call.
 * @module
 */
// The CLI's own parser: node:util would start the Node layer (about 45 ms) in every timed process.
import { parseOptions } from "../../src/cli/args.ts";

type Load = (url: string, options: Record<string, unknown>) => AsyncGenerator<{
  name: string;
  layer: string;
  bytes: Uint8Array;
}>;

const { values, positionals } = parseOptions(Deno.args, {
  "first-layer-tensors": { default: "1" },
  transport: { default: "auto" },
  concurrency: {},
});
if (positionals.length !== 1) {
  console.error("usage: load_model_child.ts URL [--first-layer-tensors N] [--transport T]");
  Deno.exit(2);
}
const firstLayerTensors = Number(values["first-layer-tensors"]);

/** The Deno entry point of the client, whichever this tree has. */
async function entry(): Promise<{ name: string; load: Load }> {
  try {
    const m = await import("../../src/client/deno_native.ts");
    if (typeof m.loadModelNative === "function") {
      return { name: "loadModelNative", load: m.loadModelNative as unknown as Load };
    }
  } catch {
    // no Deno-specific entry: use the browser one
  }
  const m = await import("../../src/client/mod.ts");
  return { name: "loadModel", load: m.loadModel as unknown as Load };
}

const importStart = performance.now();
const { name, load } = await entry();
const t0 = performance.now();
const emit = (event: string, extra: Record<string, unknown>) =>
  console.log(JSON.stringify({
    event,
    sinceStartMs: performance.now(),
    inProcessMs: performance.now() - t0,
    ...extra,
  }));
let tensors = 0, bytes = 0, firstTensorMs = -1;
const options: Record<string, unknown> = { transport: values.transport };
if (values.concurrency) options.concurrency = Number(values.concurrency);
for await (const t of load(positionals[0], options)) {
  if (tensors === 0) firstTensorMs = performance.now() - t0;
  tensors++;
  bytes += t.bytes.length;
  if (tensors === firstLayerTensors) emit("first-layer", { layer: t.layer, tensors, bytes });
}
emit("done", {
  tensors,
  bytes,
  entry: name,
  firstTensorMs,
  importMs: t0 - importStart,
});
