/**
 * Response bodies that never pass through JavaScript: native threads (native/tsr_unpack.c, through
 * `streamNative`) read, decode (every chunk's XXH32 checked) and send a plan's blocks in order on
 * a Unix socket, as the body of an HTTP/1.1 response that this process fetches from itself; the
 * fetched body is the server response's body, which the runtime then streams from Rust to Rust
 * (a fetch body is a resource-backed stream), reading the socket on its own event loop.
 *
 * Why: a cold full-file GET through JavaScript hands the runtime one fresh buffer per block, and
 * V8 ran a full garbage collection per 64 MiB of them (about four per 338 MB GET, with the main
 * thread's share of the GET about a third of the server's CPU). A pipe opened as a `Deno.FsFile`
 * (the other body the runtime streams itself) was slower than the JavaScript body: every 64 KiB
 * read of it is a hand-off to a blocking thread and back, 11,000-12,000 context switches per 338 MB
 * GET against ~350, and 700 ms of CPU against 530 (docs/ARCHITECTURE.md has the figures).
 * @module
 */
import type { Container } from "../container/open.ts";
import type { Block } from "../container/plan.ts";
import type { BodyHooks } from "../http/representation.ts";
import { posixFiles } from "../threads/posix_file.ts";
import {
  nativeUnpackAvailable,
  streamAccept,
  StreamClosedError,
  streamListen,
  streamNative,
  streamWrite,
} from "../threads/native_unpack.ts";
import type { DecodeObserver } from "../threads/decode_pool.ts";

/**
 * Native bodies in progress at most; more go through JavaScript instead. Each holds its threads
 * (one of them waiting while its client does not read) and a few MiB of buffers.
 */
export const MAX_NATIVE_BODIES = 4;

/** Longest wait for this process's own fetch to connect and send its request. */
const CONNECT_MS = 10_000;

let running = 0, started = 0;

/** Native bodies started since the process began, and those running now. */
export function nativeBodyCounts(): { readonly started: number; readonly running: number } {
  return { started, running };
}

/** How a server runs native bodies. */
export interface NativeBodies {
  /** Threads per body. */
  readonly threads: number;
  /** Told of each block decoded (the decode metrics). */
  readonly observe?: DecodeObserver;
}

/** What a native body sends. */
export interface NativeBodyParts {
  /** Its length: the bytes of `prefix` and of the blocks. */
  readonly length: number;
  /** Bytes sent first, as they are (blocks a cache holds). */
  readonly prefix: readonly Uint8Array[];
  /** The plan of the rest, made when the body starts. */
  readonly blocks: () => Iterable<Block>;
}

/**
 * `parts` of `c` as a body produced by native threads, or null when none can start here now (no
 * native library, a container that is not a local file or no longer at its path,
 * {@link MAX_NATIVE_BODIES} running, no permission to listen or fetch on a Unix socket): the
 * caller then reads through JavaScript.
 * `hooks.onEnd` hears once how it ended: "done" once every byte is on the socket; "cancel" when
 * the client went away; "error" (a corrupt chunk, a failed read) after exactly the bytes before
 * the failing block, when the socket closes short of the announced length and the runtime cuts
 * the connection, as for a body that fails in JavaScript.
 */
export async function nativeBody(
  c: Container,
  parts: NativeBodyParts,
  how: NativeBodies,
  hooks: BodyHooks,
): Promise<ReadableStream<Uint8Array> | null> {
  const io = posixFiles();
  if (running >= MAX_NATIVE_BODIES || !c.source.file || !io || !nativeUnpackAvailable()) {
    return null;
  }
  let input: number;
  try {
    // A container file removed or replaced at its path since it was opened (open readers must
    // survive that) fails here, before the response starts: the JavaScript path reads it through
    // the container's own descriptor.
    input = io.openRead(c.source.file);
  } catch {
    return null;
  }
  running++;
  const connected = await connect(parts.length).catch(() => null);
  if (!connected) {
    running--;
    io.close(input);
    return null;
  }
  const { fd, client, body } = connected;
  started++;
  (async () => {
    for (const p of parts.prefix) {
      await streamWrite(fd, p);
      hooks.onChunk?.(p.length);
    }
    await streamNative(c, parts.blocks(), fd, {
      input,
      threads: how.threads,
      onBytes: hooks.onChunk,
      onDecoded: how.observe,
    });
  })().then(
    () => ({ how: "done" as const, error: undefined }),
    (error) => ({
      how: error instanceof StreamClosedError ? "cancel" as const : "error" as const,
      error,
    }),
  ).then(({ how, error }) => {
    // The reader sees the end of the body only now: after the last block, or short of it.
    io.close(fd);
    io.close(input);
    client.close();
    running--;
    hooks.onEnd?.(how, error);
  });
  return body;
}

/**
 * A connection from this process's own fetch to a Unix socket in a private temporary folder,
 * answered with the head of a response of `length` bytes: its descriptor, the fetch's client and
 * the response's body. The folder is gone once the connection is made (or failed).
 */
async function connect(
  length: number,
): Promise<{ fd: number; client: Deno.HttpClient; body: ReadableStream<Uint8Array> }> {
  const dir = await Deno.makeTempDir({ prefix: "tessera-body-" });
  let client: Deno.HttpClient | undefined;
  const abort = new AbortController();
  let accepting: Promise<number> | undefined;
  try {
    const path = `${dir}/s`;
    const head = new TextEncoder().encode(
      `HTTP/1.1 200 OK\r\ncontent-length: ${length}\r\ncontent-type: application/octet-stream` +
        `\r\n\r\n`,
    );
    accepting = streamAccept(streamListen(path), head, CONNECT_MS, abort.signal);
    client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
    const [res, fd] = await Promise.all([
      fetch("http://tessera.invalid/", { client, signal: abort.signal }),
      accepting,
    ]);
    if (!res.body) throw new Error("native body: the fetch has no body");
    return { fd, client, body: res.body };
  } catch (e) {
    // Neither side waits for the other any longer; a connection made meanwhile is closed.
    abort.abort();
    const fd = await accepting?.catch(() => -1);
    if (fd !== undefined && fd >= 0) posixFiles()!.close(fd);
    client?.close();
    throw e;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
