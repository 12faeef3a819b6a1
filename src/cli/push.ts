/**
 * `push <dir> <url> [--token T] [--revision B] [--message M] [--mode fast|best] [--keep]`:
 * publishes a local folder as one commit. Every file is hashed, the server is asked which
 * contents it already holds, the rest are uploaded by SHA-256 (safetensors files are packed by
 * the server), then one commit names them all and becomes visible at once. The branch's tree
 * becomes exactly the folder, unless `--keep` keeps the files the folder does not have.
 * Interrupted (Ctrl-C), it says what is already on the server: run again, and those files are
 * not sent again.
 * @module
 */
import { parseArgs } from "node:util";
import { parseModelUrl } from "../client/model_url.ts";
import { folderFiles, hashLocalFile } from "./folder_files.ts";
import { Interrupted, INTERRUPTED_EXIT, listenForInterrupt } from "./interrupt.ts";
import { formatBytes, progressBar } from "./progress.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const PUSH_USAGE =
  "push <dir> <url> [--token T] [--revision B] [--message M] [--mode fast|best] [--keep]";

/** A failed request, as one line. */
export class PushError extends Error {
  /** Builds it from the server's JSON error, if any. */
  constructor(what: string, status: number, body: string) {
    let detail = body.slice(0, 300);
    try {
      const j = JSON.parse(body);
      if (typeof j?.error === "string") detail = `[${j.error}] ${j.message ?? ""}`;
    } catch { /* not JSON */ }
    super(`${what}: HTTP ${status} ${detail}`.trim());
    this.name = "PushError";
  }
}

/** What {@link pushFolder} did. */
export interface PushResult {
  /** The commit now at the branch head. */
  readonly commit: string;
  /** Whether a commit was made (false: the branch already had this tree). */
  readonly created: boolean;
  /** Files in the folder. */
  readonly files: number;
  /** Files sent. */
  readonly uploaded: number;
  /** Bytes sent. */
  readonly bytes: number;
}

/** Options of {@link pushFolder}. */
export interface PushOptions {
  /** The folder. */
  readonly dir: string;
  /** `http://host/org/name` or `http://host/v1/models/org/name`, with `?revision=` if any. */
  readonly url: string;
  /** Bearer token. */
  readonly token: string;
  /** Branch; the URL's, else main. */
  readonly revision?: string;
  /** Commit title. */
  readonly message?: string;
  /** Codec mode for safetensors files. */
  readonly mode?: "fast" | "best";
  /** Keep the branch's files that the folder does not have. */
  readonly keep?: boolean;
  /** Interrupts the push. */
  readonly signal?: AbortSignal;
  /** Bytes hashed and sent so far, of the totals. */
  readonly onProgress?: (
    phase: "hash" | "upload",
    done: number,
    total: number,
  ) => void;
  /** Called once per file already on the server or just sent. */
  readonly onStored?: (path: string, size: number, sent: boolean) => void;
}

/**
 * Pushes a folder; see the module comment.
 *
 * @example
 * ```ts ignore
 * const r = await pushFolder({ dir: "./m", url: "http://127.0.0.1:8080/acme/m", token: "t" });
 * console.log(r.commit);
 * ```
 */
export async function pushFolder(options: PushOptions): Promise<PushResult> {
  const ref = parseModelUrl(options.url);
  const branch = options.revision ?? ref.revision;
  const { signal } = options;
  const api = `${ref.base}/v1/models/${encodeURIComponent(ref.org)}/${
    encodeURIComponent(ref.name)
  }`;
  const auth = { Authorization: `Bearer ${options.token}` };
  const files = await folderFiles(options.dir);
  if (files.length === 0) throw new UsageError(`${options.dir} holds no file to push`);
  const total = files.reduce((n, f) => n + f.size, 0);

  let hashed = 0;
  const entries: { path: string; sha256: string; local: string; size: number }[] = [];
  for (const f of files) {
    const sha256 = await hashLocalFile(f.local, (n) => {
      hashed += n;
      options.onProgress?.("hash", hashed, total);
    }, signal);
    entries.push({ path: f.path, sha256, local: f.local, size: f.size });
  }

  const missing = [];
  for (const e of entries) {
    const res = await fetch(`${api}/uploads/${e.sha256}`, {
      method: "HEAD",
      headers: auth,
      signal,
    });
    await res.body?.cancel();
    if (res.status === 200) options.onStored?.(e.path, e.size, false);
    else if (res.status === 404) missing.push(e);
    else throw new PushError(`HEAD ${api}/uploads/${e.sha256}`, res.status, "");
  }
  const toSend = missing.reduce((n, e) => n + e.size, 0);
  let sent = 0;
  options.onProgress?.("upload", 0, toSend);
  const q = options.mode ? `?mode=${options.mode}` : "";
  for (const e of missing) {
    const file = await Deno.open(e.local);
    const body = file.readable.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          sent += chunk.length;
          options.onProgress?.("upload", sent, toSend);
          c.enqueue(chunk);
        },
      }),
    );
    const res = await fetch(`${api}/uploads/${e.sha256}${q}`, {
      method: "PUT",
      headers: {
        ...auth,
        "Content-Type": "application/octet-stream",
        "Content-Length": String(e.size),
      },
      body,
      signal,
    });
    const text = await res.text();
    if (res.status !== 201 && res.status !== 200) {
      throw new PushError(`upload of ${e.path}`, res.status, text);
    }
    options.onStored?.(e.path, e.size, true);
  }

  const res = await fetch(`${api}/commits?${new URLSearchParams({ revision: branch })}`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({
      title: options.message ?? `Push ${files.length} files`,
      replace: !options.keep,
      files: entries.map((e) => ({ path: e.path, sha256: e.sha256 })),
    }),
    signal,
  });
  const text = await res.text();
  if (res.status !== 201 && res.status !== 200) throw new PushError("commit", res.status, text);
  const body = JSON.parse(text);
  return {
    commit: body.commit,
    created: body.created,
    files: files.length,
    uploaded: missing.length,
    bytes: toSend,
  };
}

/** Runs `push`; returns the exit code. */
export async function push(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      token: { type: "string" },
      revision: { type: "string" },
      message: { type: "string" },
      mode: { type: "string" },
      keep: { type: "boolean", default: false },
    },
  });
  if (positionals.length !== 2) throw new UsageError(PUSH_USAGE);
  const [dir, url] = positionals;
  const token = values.token ?? Deno.env.get("TESSERA_TOKEN");
  if (!token) throw new UsageError("a token is needed: --token T or TESSERA_TOKEN");
  if (values.mode !== undefined && values.mode !== "fast" && values.mode !== "best") {
    throw new UsageError(`--mode must be fast or best: received ${values.mode}`);
  }
  const interrupt = listenForInterrupt();
  let bar: ReturnType<typeof progressBar> | null = null, phase = "";
  const onServer: { path: string; size: number }[] = [];
  try {
    const r = await pushFolder({
      dir,
      url,
      token,
      revision: values.revision,
      message: values.message,
      mode: values.mode as "fast" | "best" | undefined,
      keep: values.keep,
      signal: interrupt.signal,
      onProgress: (p, done, total) => {
        if (p !== phase) {
          bar?.finish();
          phase = p;
          bar = progressBar(p, total);
        }
        bar!.update(done);
      },
      onStored: (path, size) => onServer.push({ path, size }),
    });
    (bar as ReturnType<typeof progressBar> | null)?.finish();
    console.log(
      `${url}: ${r.created ? "commit" : "unchanged, still at"} ${r.commit} (${r.files} files; ` +
        `${r.uploaded} sent, ${formatBytes(r.bytes)}; ${
          r.files - r.uploaded
        } already on the server)`,
    );
    return 0;
  } catch (e) {
    (bar as ReturnType<typeof progressBar> | null)?.stop();
    if (interrupt.signal.aborted && (e instanceof Interrupted || isAbort(e))) {
      const bytes = onServer.reduce((n, f) => n + f.size, 0);
      console.error(
        `interrupted: nothing was published; ${onServer.length} file(s) (${formatBytes(bytes)}) ` +
          "are on the server and kept for 24 h. Run the same command again to resume: they are " +
          "not sent again.",
      );
      return INTERRUPTED_EXIT;
    }
    if (e instanceof PushError) {
      console.error(`error: ${e.message}`);
      return 1;
    }
    if (e instanceof TypeError && !("code" in e)) {
      console.error(`error: ${url}: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    interrupt.dispose();
  }
}

function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}
