/**
 * The static baseline when nginx cannot be had: a plain `Deno.serve` of the files under a folder,
 * streamed from disk in 256 KiB reads, with HEAD and a single `Range` (what curl and the one-GET
 * baseline use). `bench:transfer` prefers nginx and says in its report which one it used.
 *
 * ```
 * deno run -A bench/transfer/static_server.ts --root DIR --port 18502
 * ```
 * @module
 */
import { parseArgs } from "node:util";

/** Streams `length` bytes of `path` from `start`. */
async function slice(path: string, start: number, length: number): Promise<ReadableStream> {
  const file = await Deno.open(path, { read: true });
  await file.seek(start, Deno.SeekMode.Start);
  let left = length;
  return new ReadableStream<Uint8Array>({
    type: "bytes",
    async pull(controller) {
      const buf = new Uint8Array(Math.min(left, 256 << 10));
      const n = buf.length === 0 ? null : await file.read(buf);
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

/** Serves `root` on 127.0.0.1:`port`. */
export function serveFolder(root: string, port: number): Deno.HttpServer {
  return Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    const rel = decodeURIComponent(new URL(req.url).pathname);
    if (rel.split("/").includes("..")) return new Response(null, { status: 400 });
    let size: number;
    try {
      const s = await Deno.stat(`${root}${rel}`);
      if (!s.isFile) return new Response(null, { status: 404 });
      size = s.size;
    } catch {
      return new Response(null, { status: 404 });
    }
    return await rangeResponse(req, `${root}${rel}`, size);
  });
}

/**
 * The answer to `req` for the file at `path` of `size` bytes: HEAD, GET, or one `Range` (suffix
 * and open-ended too; 416 past the end), streamed from disk. Shared by both static baselines.
 */
export async function rangeResponse(req: Request, path: string, size: number): Promise<Response> {
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
  const body = end >= start ? await slice(path, start, end - start + 1) : null;
  return new Response(body, { status, headers });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { root: { type: "string" }, port: { type: "string" } },
  });
  if (!values.root || !values.port) {
    console.error("usage: static_server.ts --root DIR --port N");
    Deno.exit(2);
  }
  serveFolder(values.root, Number(values.port));
  console.log(`serving ${values.root} on 127.0.0.1:${values.port}`);
}
