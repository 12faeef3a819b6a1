/**
 * The baseline of `bench/serve_bench.ts`: a minimal static `Deno.serve` handler that serves one
 * file straight from disk, with HEAD and a single `Range`.
 *
 * ```
 * deno run -A bench/serve_static.ts --file model.safetensors --port 8081
 * ```
 * @module
 */
import { parseArgs } from "node:util";

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

/** Streams `length` bytes of the file from `start`. */
async function slice(start: number, length: number): Promise<ReadableStream<Uint8Array>> {
  const file = await Deno.open(path, { read: true });
  await file.seek(start, Deno.SeekMode.Start);
  let left = length;
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      const buf = new Uint8Array(Math.min(left, 256 << 10));
      const n = await file.read(buf);
      if (n === null || n === 0) {
        file.close();
        controller.close();
        return;
      }
      left -= n;
      controller.enqueue(buf.subarray(0, n));
      if (left === 0) {
        file.close();
        controller.close();
      }
    },
    cancel() {
      file.close();
    },
  });
}

Deno.serve(
  { hostname: "127.0.0.1", port: Number(values.port), onListen: () => {} },
  async (req) => {
    const headers = new Headers({
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
    });
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.get("range") ?? "");
    let start = 0, end = size - 1, status = 200;
    if (m && (m[1] !== "" || m[2] !== "")) {
      start = m[1] === "" ? Math.max(0, size - Number(m[2])) : Number(m[1]);
      end = m[1] === "" || m[2] === "" ? size - 1 : Math.min(size - 1, Number(m[2]));
      if (start > end) {
        return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } });
      }
      status = 206;
      headers.set("content-range", `bytes ${start}-${end}/${size}`);
    }
    headers.set("content-length", String(end - start + 1));
    if (req.method === "HEAD") return new Response(null, { status, headers });
    if (req.method !== "GET") return new Response(null, { status: 405 });
    return new Response(end >= start ? await slice(start, end - start + 1) : null, {
      status,
      headers,
    });
  },
);
console.log(`listening on ${values.port}`);
