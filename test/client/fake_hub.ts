/**
 * A small in-memory stand-in for the Tessera server's read routes (manifest, tensors, container,
 * resolve), for client unit tests that need to misbehave in controlled ways. The integration
 * tests use the real server.
 * @module
 */
import type { Index } from "../../src/container/index_schema.ts";
import { geometryOf, losslessOf } from "../../src/container/index_schema.ts";
import type { Fetch } from "../../src/client/http.ts";
import { openBytes, readOriginal } from "../helpers/container.ts";

/** One model the fake serves. */
export interface FakeModel {
  /** The original safetensors bytes. */
  readonly original: Uint8Array;
  /** The container bytes. */
  container: Uint8Array;
  /** The container's index. */
  readonly index: Index;
  /** ETag of the original file; the quoted SHA-256 unless a test changes it. */
  etag: string;
}

/** Builds a {@link FakeModel} from container bytes. */
export async function fakeModel(container: Uint8Array): Promise<FakeModel> {
  const c = await openBytes(container);
  const original = await readOriginal(c);
  return { original, container, index: c.index, etag: `"${c.index.source.sha256}"` };
}

/** The manifest the server would publish for `m`. */
export function manifestOf(id: string, m: FakeModel): unknown {
  const dataStart = 8 + m.index.source.header.length;
  return {
    id,
    revision: "main",
    sha256: m.index.source.sha256,
    size: m.index.source.size,
    containerSize: m.container.length,
    mode: m.index.mode,
    metadata: m.index.metadata,
    layers: m.index.layers.map((key) => {
      const ts = m.index.tensors.filter((t) => t.layer === key);
      return {
        key,
        tensors: ts.map((t) => t.name),
        rawBytes: ts.reduce((n, t) => n + t.offsets[1] - t.offsets[0], 0),
      };
    }),
    tensors: m.index.tensors.map((t) => {
      const g = geometryOf(t);
      return {
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        layer: t.layer,
        offsets: t.offsets,
        rawBytes: t.offsets[1] - t.offsets[0],
        storedBytes: losslessOf(t).chunks.reduce((n, c) => n + c[1], 0),
        sha256: t.sha256,
        tile: [g.tileRows, g.tileCols],
        fileOffset: dataStart + t.offsets[0],
      };
    }),
    container: { url: `/v1/models/${id}/container?revision=main`, headLength: 64 },
  };
}

/** Serves `bytes` with a single-range `Range`, `If-Range` and HEAD. */
function ranged(req: Request, bytes: Uint8Array, etag: string): Response {
  const headers = new Headers({ "accept-ranges": "bytes", etag });
  const range = req.headers.get("range");
  const ifRange = req.headers.get("if-range");
  const m = range ? /^bytes=(\d*)-(\d*)$/.exec(range) : null;
  if (m && (!ifRange || ifRange === etag)) {
    let start = m[1] === "" ? bytes.length - Number(m[2]) : Number(m[1]);
    let end = m[1] === "" || m[2] === "" ? bytes.length - 1 : Number(m[2]);
    start = Math.max(0, start);
    end = Math.min(end, bytes.length - 1);
    if (start > end || start >= bytes.length) {
      return new Response(null, {
        status: 416,
        headers: { "content-range": `bytes */${bytes.length}` },
      });
    }
    headers.set("content-range", `bytes ${start}-${end}/${bytes.length}`);
    headers.set("content-length", String(end - start + 1));
    const body = req.method === "HEAD" ? null : bytes.slice(start, end + 1);
    return new Response(body, { status: 206, headers });
  }
  headers.set("content-length", String(bytes.length));
  return new Response(req.method === "HEAD" ? null : bytes.slice(), { status: 200, headers });
}

/** A handler serving `models` (by `org/name`) the way the Tessera server does. */
export function fakeHub(models: Map<string, FakeModel>): (req: Request) => Response {
  return (req) => {
    const url = new URL(req.url);
    const parts = url.pathname.split("/").map(decodeURIComponent);
    const notFound = () => Response.json({ error: "not found" }, { status: 404 });
    if (parts[1] === "v1" && parts[2] === "models") {
      const id = `${parts[3]}/${parts[4]}`;
      const m = models.get(id);
      if (!m) return notFound();
      if (parts[5] === "manifest") return Response.json(manifestOf(id, m));
      if (parts[5] === "container") return ranged(req, m.container, `"c${m.etag.slice(1)}`);
      if (parts[5] === "tensors") {
        const t = m.index.tensors.find((t) => t.name === parts[6]);
        if (!t) return notFound();
        const begin = 8 + m.index.source.header.length + t.offsets[0];
        const bytes = m.original.subarray(begin, begin + t.offsets[1] - t.offsets[0]);
        return ranged(req, bytes, `"${t.sha256}"`);
      }
      return notFound();
    }
    const m = models.get(`${parts[1]}/${parts[2]}`);
    if (m && parts[3] === "resolve" && parts[5] === "model.safetensors") {
      return ranged(req, m.original, m.etag);
    }
    return notFound();
  };
}

/** A `fetch` that calls `handler` in memory, honouring the request's `AbortSignal`. */
export function inMemoryFetch(handler: (req: Request) => Response | Promise<Response>): Fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    req.signal.throwIfAborted();
    return await handler(req);
  };
}
