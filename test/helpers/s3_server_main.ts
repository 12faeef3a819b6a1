/**
 * A real S3-protocol server on loopback for the tests and for users: s3rver (npm), file-backed,
 * signatures checked (credentials `S3RVER` / `S3RVER`).
 *
 * ```
 * deno task s3 [--port 0] [--dir DIR] [--bucket tessera] [--conditional]
 * ```
 * Prints one JSON line `{"port":N,"dir":...,"bucket":...}` once it listens, and stops when its
 * standard input closes (so it never outlives the process that started it) or on SIGINT/SIGTERM.
 *
 * s3rver 3.7.1 ignores `If-None-Match` and `If-Match` on writes, which is what the S3 store's
 * lease mode is for. `--conditional` adds what AWS S3 and MinIO do with them on PUT, on completing
 * a multipart upload and on DELETE (RFC 9110 §13.1, 412 Precondition Failed), evaluated and
 * applied one write at a time per key, so the store's conditional mode is tested against the
 * same server.
 * @module
 */
import { parseArgs } from "node:util";
import S3rver from "s3rver";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "0" },
    dir: { type: "string" },
    bucket: { type: "string", default: "tessera" },
    conditional: { type: "boolean", default: false },
  },
});
const dir = values.dir ?? await Deno.makeTempDir({ prefix: "tessera-s3rver-" });
const server = new S3rver({
  port: Number(values.port),
  address: "127.0.0.1",
  silent: true,
  directory: dir,
  configureBuckets: [{ name: values.bucket! }],
});

type Ctx = {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  body: unknown;
  type: string;
  get(name: string): string;
};
type Metadata = { etag: string };
const s3 = server as unknown as {
  middleware: ((ctx: Ctx, next: () => Promise<void>) => Promise<void>)[];
  store: { getMetadata(bucket: string, key: string): Promise<Metadata> };
};

if (values.conditional) {
  const chains = new Map<string, Promise<void>>();
  const strip = (t: string) => t.trim().replace(/^W\//, "").replace(/"/g, "");
  s3.middleware.unshift(async (ctx, next) => {
    const ifNone = ctx.get("if-none-match"), ifMatch = ctx.get("if-match");
    const write =
      (ctx.method === "PUT" && !ctx.query.partNumber && !ctx.get("x-amz-copy-source")) ||
      (ctx.method === "POST" && ctx.query.uploadId !== undefined) ||
      (ctx.method === "DELETE" && ctx.query.uploadId === undefined);
    const m = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    if (!write || !m || (!ifNone && !ifMatch)) return next();
    const [, bucket, key] = m;
    const id = `${bucket}/${decodeURIComponent(key)}`;
    const prev = chains.get(id) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => done = r);
    chains.set(id, prev.then(() => mine));
    await prev;
    try {
      const cur = await s3.store.getMetadata(bucket, decodeURIComponent(key)).catch(() => null);
      const tags = (v: string) => v.split(",").map(strip);
      const failed = (ifNone && (ifNone.trim() === "*" ? cur !== null : cur !== null &&
        tags(ifNone).includes(strip(cur.etag)))) ||
        (ifMatch &&
          (cur === null || (ifMatch.trim() !== "*" && !tags(ifMatch).includes(strip(cur.etag)))));
      if (failed) {
        ctx.status = 412;
        ctx.type = "application/xml";
        ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>' +
          "<Message>At least one of the pre-conditions you specified did not hold</Message></Error>";
        return;
      }
      await next();
    } finally {
      done();
      if (chains.get(id) === mine) chains.delete(id);
    }
  });
}

const address = await server.run() as { port: number };
console.log(JSON.stringify({ port: address.port, dir, bucket: values.bucket }));

// Every write of s3rver is already on disk; closing would wait for clients' keep-alive
// connections to end, which a server replica never does.
const stop = () => Deno.exit(0);
for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, stop);
// The parent holds our standard input open for as long as it wants us.
for await (const _ of Deno.stdin.readable) {
  // nothing is read from it
}
stop();
