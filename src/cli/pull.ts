/**
 * `pull <url> <out.safetensors> [--transport auto|decoded|compressed] [--workers N]
 * [--variant NAME]`: downloads a model's original file from a Tessera server, byte-identical, or
 * with `--variant` (or a variant revision, `main@int8`) that variant's file, whose compressed
 * transport fetches only the variant's chunks. It writes `<out>.part` (with
 * `<out>.part.json` describing it), resumes an interrupted pull, checks the SHA-256 of the whole
 * file, then fsyncs and renames, so `<out>` is either absent or complete and verified.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { deferredNativeBackends } from "../client/deno_native.ts";
import { guardStalls, STALL_MS } from "../client/stall_guard.ts";
import { ClientError } from "../client/errors.ts";
import { bodyPieces, type Fetch, parseContentRange } from "../client/http.ts";
import {
  type LoadOptions,
  openSource,
  type SourceFile,
  sourceFile,
  type Transport,
} from "../client/load_model.ts";
import { parseModelUrl, resolveUrl, revisionVariant, withVariant } from "../client/model_url.ts";
import type { RemoteContainer } from "../client/remote_container.ts";
import { assemble } from "../container/assemble.ts";
import type { Hasher } from "../container/backends.ts";
import { ContainerError } from "../container/errors.ts";
import { planBlocks, slicePieces } from "../container/plan.ts";
import { originalPieces, readOriginalHeader } from "../container/read.ts";
import { variantPieces } from "../container/variant_read.ts";
import { defaultWorkers } from "../io/unpack_file.ts";
import { createDecodePool } from "../threads/decode_pool.ts";
import { parseOptions } from "./args.ts";
import { INTERRUPTED_EXIT, listenForInterrupt } from "./interrupt.ts";
import { makeParents } from "./paths.ts";
import { formatBytes, progressBar } from "./progress.ts";
import { pullRepo } from "./pull_repo.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const PULL_USAGE = "pull <url> <out.safetensors | folder/> [--file PATH] " +
  "[--transport auto|decoded|compressed] [--workers N] [--variant NAME] [--stall-s S]";

/** Options for {@link pullFile}. */
export interface PullOptions {
  /** `http://host/org/name[/tree/rev]` or `http://host/v1/models/org/name[?revision=r]`. */
  readonly url: string;
  /** Where the file goes; `<out>.part` and `<out>.part.json` are used meanwhile. */
  readonly out: string;
  /** `auto` (the default) uses `compressed` when the server offers the container. */
  readonly transport?: Transport | "auto";
  /** Decode threads for the compressed transport; by default one per core for large files. */
  readonly workers?: number;
  /** Output bytes per decoded block (compressed transport); 1 MiB by default. */
  readonly blockBytes?: number;
  /** How the container is read over HTTP; for tuning and tests. */
  readonly http?: LoadOptions["http"];
  /** Pull this variant's file (the original's header, the tensors dequantised). */
  readonly variant?: string;
  /** The safetensors file to pull from a revision of several: its path in the repo. */
  readonly file?: string;
  /** Interrupts the pull; the partial file stays for a later resume. */
  readonly signal?: AbortSignal;
  /** The `fetch` to use; the global one by default. */
  readonly fetch?: Fetch;
  /** Milliseconds to wait for a server that stopped sending; see `LoadOptions.stallMs`. */
  readonly stallMs?: number;
  /** Called with bytes of the file on disk so far, and the file size. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** What a pull did. */
export interface PullResult {
  /** `org/name`. */
  readonly id: string;
  /** The revision pulled. */
  readonly revision: string;
  /** The transport used. */
  readonly transport: Transport;
  /** File size in bytes. */
  readonly size: number;
  /** SHA-256 of the file, verified. */
  readonly sha256: string;
  /** Bytes of an earlier partial file that were kept; 0 for a fresh pull. */
  readonly resumedFrom: number;
  /** Whether a partial file had to be discarded because the file on the server changed. */
  readonly restarted: boolean;
}

/** `<out>.part.json`: which file the partial download belongs to. */
interface PartMeta {
  readonly id: string;
  readonly revision: string;
  readonly sha256: string;
  readonly size: number;
  /** The ETag the server sent with the bytes, for `If-Range`; null when none was seen. */
  readonly etag: string | null;
}

const HASH_BLOCK = 8 << 20;

/**
 * Pulls the original file of a model into `options.out`.
 *
 * @example
 * ```ts ignore
 * import { pullFile } from "./pull.ts";
 * const r = await pullFile({ url: "http://127.0.0.1:8080/demo/stories260k", out: "m.safetensors" });
 * console.log(r.sha256, r.transport);
 * ```
 */
export async function pullFile(options: PullOptions): Promise<PullResult> {
  const fetchFn = guardStalls(
    options.fetch ?? ((input, init) => fetch(input, init)),
    options.stallMs,
  );
  const { signal } = options;
  const ref = withVariant(parseModelUrl(options.url), options.variant);
  const source = await openSource(fetchFn, ref, {
    transport: options.transport,
    // Opened in the opening's round trip, not before its requests (7-30 ms of dlopen).
    backends: deferredNativeBackends(),
    http: options.http,
    file: options.file,
  }, signal);
  const file = sourceFile(ref, source, options.file);
  const partPath = `${options.out}.part`, metaPath = `${options.out}.part.json`;
  const previous = await readMeta(metaPath);
  let have = 0;
  if (
    previous && previous.id === file.id && previous.sha256 === file.sha256 &&
    previous.size === file.size
  ) {
    have = await fileSize(partPath);
    if (have > file.size) have = 0;
  }
  const part = await Deno.open(partPath, { read: true, write: true, create: true });
  let result: Omit<PullResult, "sha256" | "size" | "id" | "revision">;
  let closed = false;
  try {
    const sink = partSink(part, file.size, options.onProgress);
    if (source.transport === "decoded") {
      const url = resolveUrl(ref, options.file);
      result = await pullDecoded(fetchFn, url, file, sink, metaPath, have, previous, signal);
    } else {
      await sink.restart(have);
      await writeMeta(metaPath, metaOf(file, previous?.etag ?? null));
      await pullCompressed(
        source.containers.get("")!,
        sink,
        have,
        options,
        revisionVariant(ref.revision),
      );
      result = { transport: "compressed", resumedFrom: have, restarted: false };
    }
    const digest = sink.digest();
    if (sink.position !== file.size || digest !== file.sha256) {
      part.close();
      closed = true;
      await discard(partPath, metaPath);
      throw new ContainerError(
        "digest_mismatch",
        `${file.id}@${file.revision}: the downloaded file (${sink.position} bytes, sha256 ` +
          `${digest}) is not the ${file.size}-byte file ${file.sha256}; partial file removed`,
      );
    }
    await part.sync();
  } finally {
    if (!closed) part.close();
  }
  await Deno.rename(partPath, options.out);
  await syncDir(options.out);
  await Deno.remove(metaPath).catch(() => {});
  return {
    ...result,
    id: file.id,
    revision: file.revision,
    size: file.size,
    sha256: file.sha256,
  };
}

/** The part file being written sequentially, hashed and reported as it goes. */
interface PartSink {
  /** Bytes in the file so far. */
  readonly position: number;
  /** Keeps the first `offset` bytes of the file (hashing them again) and continues from there. */
  restart(offset: number): Promise<void>;
  /** Appends `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /** SHA-256 hex of the bytes so far; the sink is spent afterwards. */
  digest(): string;
}

function partSink(
  file: Deno.FsFile,
  total: number,
  onProgress?: (done: number, total: number) => void,
): PartSink {
  const backends = nativeBackends();
  let hash: Hasher = backends.sha256(), position = 0;
  return {
    get position() {
      return position;
    },
    async restart(offset) {
      hash = backends.sha256();
      await file.truncate(offset);
      await file.seek(0, Deno.SeekMode.Start);
      const block = new Uint8Array(Math.min(HASH_BLOCK, Math.max(1, offset)));
      let read = 0;
      while (read < offset) {
        const n = await file.read(block.subarray(0, Math.min(block.length, offset - read)));
        if (n === null) throw new Error(`partial file ended at ${read} of ${offset} bytes`);
        hash.update(block.subarray(0, n));
        read += n;
      }
      position = offset;
      onProgress?.(offset, total);
    },
    async write(bytes) {
      if (position + bytes.length > total) {
        throw new ClientError(
          "bad_response",
          `the server sent more than the ${total} bytes the file has`,
        );
      }
      // Hashing (on a native thread where there is one) overlaps the write.
      const hashed = hash.updateAsync ? hash.updateAsync(bytes) : hash.update(bytes);
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await hashed;
      position += bytes.length;
      onProgress?.(position, total);
    },
    digest: () => hash.hex(),
  };
}

/**
 * The compressed transport from byte `have` of the original file on: the container's bytes from
 * the first block that holds it, fetched in spans and decoded here on `options.workers` threads,
 * written in order while the next blocks decode.
 */
async function pullCompressed(
  c: RemoteContainer,
  sink: PartSink,
  have: number,
  options: PullOptions,
  variant: { variant: string } | null,
): Promise<void> {
  const size = c.index.source.size;
  const header = await readOriginalHeader(c);
  const pieces = variant ? variantPieces(c, header, variant.variant) : originalPieces(c, header);
  const workers = options.workers ?? defaultWorkers(size - have);
  const pool = workers > 0 ? createDecodePool(workers, c.backends) : undefined;
  try {
    const blocks = planBlocks(slicePieces(pieces, have, size), { blockBytes: options.blockBytes });
    for await (
      const block of assemble(c, blocks, { executor: pool, recycle: true, signal: options.signal })
    ) {
      await sink.write(block);
      options.signal?.throwIfAborted();
    }
  } finally {
    pool?.close();
  }
}

async function pullDecoded(
  fetchFn: Fetch,
  url: string,
  file: SourceFile,
  sink: PartSink,
  metaPath: string,
  have: number,
  previous: PartMeta | undefined,
  signal?: AbortSignal,
): Promise<Omit<PullResult, "sha256" | "size" | "id" | "revision">> {
  let restarted = false;
  if (have > 0 && !previous?.etag) have = 0;
  await sink.restart(have);
  if (have === file.size) return { transport: "decoded", resumedFrom: have, restarted };
  const headers: Record<string, string> = {};
  if (have > 0) {
    headers.Range = `bytes=${have}-`;
    headers["If-Range"] = previous!.etag!;
  }
  let res = await fetchFn(url, { headers, signal });
  if (res.status === 416) {
    await res.body?.cancel();
    res = await fetchFn(url, { signal });
  }
  if (res.status === 206) {
    const range = parseContentRange(res.headers.get("content-range"));
    if (!range || range.first !== have || range.total !== file.size) {
      await res.body?.cancel();
      throw new ClientError(
        "bad_response",
        `GET ${url} from byte ${have}: Content-Range is "${res.headers.get("content-range")}"`,
      );
    }
  } else if (res.status === 200) {
    // The file changed (If-Range failed) or the server ignores ranges: start over.
    if (have > 0) restarted = true;
    have = 0;
    await sink.restart(0);
  } else {
    await res.body?.cancel();
    throw new ClientError("http", `GET ${url}: ${res.status} ${res.statusText}`, {
      status: res.status,
    });
  }
  const etag = res.headers.get("etag");
  const tag = etag?.replace(/^W\//, "").replace(/"/g, "");
  if (tag && /^[0-9a-f]{64}$/.test(tag) && tag !== file.sha256) {
    await res.body?.cancel();
    throw new ClientError(
      "manifest_mismatch",
      `GET ${url}: ETag ${etag} names another file than the one asked for (${file.sha256})`,
    );
  }
  await writeMeta(metaPath, metaOf(file, etag && !etag.startsWith("W/") ? etag : null));
  for await (const piece of bodyPieces(res)) await sink.write(piece);
  return { transport: "decoded", resumedFrom: have, restarted };
}

function metaOf(file: SourceFile, etag: string | null): PartMeta {
  return {
    id: file.id,
    revision: file.revision,
    sha256: file.sha256,
    size: file.size,
    etag,
  };
}

async function readMeta(path: string): Promise<PartMeta | undefined> {
  try {
    const json = JSON.parse(await Deno.readTextFile(path));
    if (
      typeof json?.id === "string" && typeof json.sha256 === "string" &&
      typeof json.size === "number" && (typeof json.etag === "string" || json.etag === null)
    ) {
      return json as PartMeta;
    }
  } catch {
    // Missing or unreadable: start afresh.
  }
  return undefined;
}

async function writeMeta(path: string, meta: PartMeta): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(meta) + "\n");
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

async function discard(...paths: string[]): Promise<void> {
  for (const p of paths) await Deno.remove(p).catch(() => {});
}

async function syncDir(file: string): Promise<void> {
  const slash = file.lastIndexOf("/");
  try {
    const d = await Deno.open(slash > 0 ? file.slice(0, slash) : slash === 0 ? "/" : ".");
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the file itself is already durable.
  }
}

/** Runs `pull`; returns the exit code. */
export async function pull(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    transport: { default: "auto" },
    workers: {},
    variant: {},
    file: {},
    "stall-s": {},
  });
  if (positionals.length !== 2) throw new UsageError(PULL_USAGE);
  const transport = values.transport;
  if (transport !== "auto" && transport !== "decoded" && transport !== "compressed") {
    throw new UsageError(`--transport must be auto, decoded or compressed: received ${transport}`);
  }
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0 && workers <= 64)) {
    throw new UsageError(`--workers must be an integer from 0 to 64: received ${values.workers}`);
  }
  const stallS = values["stall-s"] === undefined ? STALL_MS / 1000 : Number(values["stall-s"]);
  if (!(Number.isFinite(stallS) && stallS >= 0)) {
    throw new UsageError(
      `--stall-s must be a number of seconds >= 0: received ${values["stall-s"]}`,
    );
  }
  const [url, out] = positionals;
  const folder = out.endsWith("/") || (await isFolder(out));
  if (folder && values.file !== undefined) {
    throw new UsageError("--file names one file: give an output file, not a folder");
  }
  // A folder pull lists the stored revision's files; a variant's files are pulled one at a time.
  if (folder && values.variant !== undefined) {
    throw new UsageError("--variant pulls one file: give an output file, not a folder");
  }
  const interrupt = listenForInterrupt();
  let bar: ReturnType<typeof progressBar> | undefined;
  const common = {
    url,
    transport,
    workers,
    stallMs: stallS * 1000,
    signal: interrupt.signal,
    onProgress: (done: number, total: number) => (bar ??= progressBar("pull", total)).update(done),
  } as const;
  try {
    if (folder) {
      const files = await pullRepo({ ...common, folder: out });
      bar?.finish();
      const bytes = files.reduce((n, f) => n + f.size, 0);
      console.log(
        `${out}: ${files.length} files of ${files[0]?.id ?? url}, ${formatBytes(bytes)}; ` +
          "every file verified by its sha256",
      );
      return 0;
    }
    await makeParents(out);
    const r = await pullFile({ ...common, out, file: values.file, variant: values.variant });
    bar?.finish();
    console.log(
      `${out}: ${r.id}@${r.revision}, ${
        formatBytes(r.size)
      } (${r.size} bytes) over ${r.transport}` +
        `${r.resumedFrom > 0 ? `, resumed from byte ${r.resumedFrom}` : ""}` +
        `${r.restarted ? ", restarted: the file had changed" : ""}; sha256 ${r.sha256} (verified)`,
    );
    return 0;
  } catch (e) {
    bar?.stop();
    if (interrupt.signal.aborted) {
      console.error(
        `interrupted: what was downloaded is kept (${folder ? `in ${out}` : `${out}.part`}); ` +
          "run the same pull again to resume",
      );
      return INTERRUPTED_EXIT;
    }
    if (e instanceof ClientError) {
      console.error(`error [${e.kind}]: ${e.message}`);
      return 1;
    }
    if (e instanceof TypeError && !("code" in e)) {
      // fetch reports network failures (refused connection, reset) as a TypeError.
      console.error(`error: ${url}: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    interrupt.dispose();
  }
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
