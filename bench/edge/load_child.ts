/**
 * One `loadModelNative` (compressed transport) in a process of its own, for `bench:edge`, with a
 * timeline: prints one JSON line per request the client makes (URL, `Range`, when it left, when its
 * headers, first body byte and last byte arrived) and per event (`first-layer` once the first N
 * tensors are in, `done`). Times are epoch milliseconds (`performance.timeOrigin +
 * performance.now()`), so the parent lines them up with the edge's log of its origin exchanges;
 * `inProcessMs` is from the `loadModelNative` call, as in `bench/transfer/load_model_child.ts`.
 *
 * ```
 * deno run -A bench/edge/load_child.ts http://127.0.0.1:46002/v1/models/bench/m --first-layer-tensors 1
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { loadModelNative } from "../../src/client/deno_native.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { "first-layer-tensors": { type: "string", default: "1" } },
});
if (positionals.length !== 1) {
  console.error("usage: load_child.ts URL [--first-layer-tensors N]");
  Deno.exit(2);
}
const firstLayerTensors = Number(values["first-layer-tensors"]);
const now = () => performance.timeOrigin + performance.now();
const print = (line: Record<string, unknown>) => console.log(JSON.stringify(line));

let requests = 0;
/** `fetch`, each exchange timed: its headers, its first body byte, its end (when read to it). */
const timedFetch: typeof fetch = async (input, init) => {
  const id = ++requests;
  const url = input instanceof Request ? input.url : String(input);
  const range = new Headers(init?.headers).get("range");
  const sentAt = now();
  const res = await fetch(input, init);
  print({ event: "request", id, url, range, status: res.status, sentAt, headersAt: now() });
  if (!res.body) return res;
  let bytes = 0;
  const body = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(piece, out) {
        if (bytes === 0) print({ event: "first-byte", id, at: now() });
        bytes += piece.length;
        out.enqueue(piece);
      },
      flush() {
        print({ event: "body-done", id, at: now(), bytes });
      },
    }),
  );
  return new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
};

const t0 = now();
let tensors = 0;
for await (
  const t of loadModelNative(positionals[0], { transport: "compressed", fetch: timedFetch })
) {
  tensors++;
  if (tensors === firstLayerTensors) {
    print({ event: "first-layer", at: now(), t0, inProcessMs: now() - t0, layer: t.layer });
  }
}
print({ event: "done", at: now(), t0, inProcessMs: now() - t0, tensors });
