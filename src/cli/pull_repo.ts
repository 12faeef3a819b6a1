/**
 * `pull <url> <folder/>`: every file of a revision into a folder, at its path in the repo: each
 * safetensors file by {@link pullFile} (compressed or decoded, resumable, verified), every other
 * file (configs, tokenizer, `model.safetensors.index.json`) by one GET checked against the
 * manifest's SHA-256 and written atomically. A file already there with the right digest is kept,
 * so an interrupted pull resumes where it stopped.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { guardStalls } from "../client/stall_guard.ts";
import { ClientError } from "../client/errors.ts";
import { type Fetch, readExact, request } from "../client/http.ts";
import { fetchManifest } from "../client/manifest.ts";
import { parseModelUrl, resolveUrl } from "../client/model_url.ts";
import { ContainerError } from "../container/errors.ts";
import { createAtomicFile } from "../io/atomic_file.ts";
import { makeParents } from "./paths.ts";
import { pullFile, type PullOptions } from "./pull.ts";

/** Options of {@link pullRepo}: those of a pull, with a folder for `out`. */
export interface PullRepoOptions extends Omit<PullOptions, "out" | "file" | "onProgress"> {
  /** Where the files go, each at its path in the repo. */
  readonly folder: string;
  /** Bytes of every file on disk so far, and of all of them. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** One file pulled. */
export interface PulledFile {
  /** `org/name`. */
  readonly id: string;
  /** Its path in the repo. */
  readonly path: string;
  /** Its size. */
  readonly size: number;
  /** Its SHA-256, verified. */
  readonly sha256: string;
}

/**
 * Pulls every file of the revision `options.url` names into `options.folder`.
 *
 * @example
 * ```ts ignore
 * const files = await pullRepo({ url: "http://127.0.0.1:8080/org/sharded", folder: "sharded/" });
 * ```
 */
export async function pullRepo(options: PullRepoOptions): Promise<PulledFile[]> {
  const fetchFn = guardStalls(
    options.fetch ?? ((input, init) => fetch(input, init)),
    options.stallMs,
  );
  const ref = parseModelUrl(options.url);
  const manifest = await fetchManifest(fetchFn, ref, options.signal);
  const files = manifest.files ?? [];
  if (files.length === 0) {
    throw new ClientError("bad_response", `${ref.id}@${ref.revision}: the manifest lists no file`);
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  let before = 0;
  const out: PulledFile[] = [];
  for (const f of files) {
    // Paths come from the server: refuse anything that would leave the folder.
    if (f.path.split("/").some((p) => p === "" || p === "." || p === "..")) {
      throw new ClientError("bad_response", `the manifest names an unsafe path ${f.path}`);
    }
    const path = `${options.folder.replace(/\/$/, "")}/${f.path}`;
    await makeParents(path);
    const progress = (done: number) => options.onProgress?.(before + done, total);
    if (f.container) {
      await pullFile({ ...options, out: path, file: f.path, onProgress: progress });
    } else if (!(await hasDigest(path, f.sha256))) {
      await fetchFile(fetchFn, resolveUrl(ref, f.path), path, f, options.signal);
    }
    before += f.size;
    progress(0);
    out.push({ id: ref.id, path: f.path, size: f.size, sha256: f.sha256 });
  }
  return out;
}

/** Whether `path` holds bytes of SHA-256 `sha256` already. */
async function hasDigest(path: string, sha256: string): Promise<boolean> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    return false;
  }
  const h = nativeBackends().sha256();
  h.update(bytes);
  return h.hex() === sha256;
}

/** GETs a small file and writes it atomically once its size and SHA-256 check out. */
async function fetchFile(
  fetchFn: Fetch,
  url: string,
  path: string,
  f: { readonly path: string; readonly size: number; readonly sha256: string },
  signal?: AbortSignal,
): Promise<void> {
  const res = await request(fetchFn, url, { signal });
  const bytes = await readExact(res, f.size, `GET ${url}`);
  const h = nativeBackends().sha256();
  h.update(bytes);
  const digest = h.hex();
  if (digest !== f.sha256) {
    throw new ContainerError(
      "digest_mismatch",
      `${f.path}: received bytes hash to ${digest}, the manifest says ${f.sha256}`,
    );
  }
  const file = await createAtomicFile(path);
  try {
    await file.writeAt(0, bytes);
    await file.commit();
  } catch (e) {
    await file.abort();
    throw e;
  }
}
