/**
 * Repos for tests: a real model split into shards with the `model.safetensors.index.json` that
 * transformers writes, and publishing a set of files through the HTTP API (uploads by SHA-256,
 * then one commit), as a client does.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "../../src/hash/sha256.ts";

/** A file of a repo to publish. */
export interface RepoFile {
  /** Path in the repo. */
  readonly path: string;
  /** Its bytes. */
  readonly bytes: Uint8Array;
}

/** The shared real-weights folder: `../shared/data` beside the checkout, or `TESSERA_SHARED_DATA`. */
export const SHARED_DATA = (Deno.env.get("TESSERA_SHARED_DATA") ??
  fileURLToPath(new URL("../../../shared/data/", import.meta.url))).replace(/\/?$/, "/");
/** The committed demo model (llama2.c stories260K), used when the shared folder is missing. */
export const FIXTURE_MODEL = fileURLToPath(
  new URL("../fixtures/stories260k.bf16.safetensors", import.meta.url),
);

/** A real model file: `name` from the shared data folder if it is there, else the fixture. */
export function realModel(name: string): { path: string; shared: boolean } {
  try {
    const path = `${SHARED_DATA}${name}`;
    Deno.statSync(path);
    return { path, shared: true };
  } catch {
    return { path: FIXTURE_MODEL, shared: false };
  }
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * Splits safetensors `bytes` into `n` shards of consecutive tensors of about equal size, named as
 * transformers names them, plus the index (`metadata.total_size`, `weight_map`).
 */
export function splitSafetensors(
  bytes: Uint8Array,
  n: number,
  prefix = "model",
): RepoFile[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const data = bytes.subarray(8 + headerLength);
  const metadata = header.__metadata__;
  const tensors = Object.entries(header as Record<string, HeaderEntry>)
    .filter(([k]) => k !== "__metadata__")
    .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  const total = data.length;
  const groups: [string, HeaderEntry][][] = Array.from({ length: n }, () => []);
  for (const t of tensors) {
    const g = Math.min(n - 1, Math.floor((t[1].data_offsets[0] / total) * n));
    groups[g].push(t);
  }
  const pad = (i: number) => String(i).padStart(5, "0");
  const files: RepoFile[] = [];
  const weightMap: Record<string, string> = {};
  groups.forEach((group, i) => {
    assert.ok(group.length > 0, `shard ${i + 1} of ${n} would be empty`);
    const name = `${prefix}-${pad(i + 1)}-of-${pad(n)}.safetensors`;
    const h: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
    let at = 0;
    const parts: Uint8Array[] = [];
    for (const [tname, e] of group) {
      const len = e.data_offsets[1] - e.data_offsets[0];
      h[tname] = { dtype: e.dtype, shape: e.shape, data_offsets: [at, at + len] };
      parts.push(data.subarray(e.data_offsets[0], e.data_offsets[1]));
      at += len;
      weightMap[tname] = name;
    }
    const json = new TextEncoder().encode(JSON.stringify(h));
    const padded = Math.ceil(json.length / 8) * 8;
    const out = new Uint8Array(8 + padded + at).fill(0x20, 8, 8 + padded);
    new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
    out.set(json, 8);
    let o = 8 + padded;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    files.push({ path: name, bytes: out });
  });
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  files.push({
    path: `${prefix}.safetensors.index.json`,
    bytes: new TextEncoder().encode(JSON.stringify(index, null, 2) + "\n"),
  });
  return files;
}

/**
 * Publishes `files` as one commit on `revision` of `org/name` through the HTTP API: each file is
 * uploaded by its SHA-256 unless the server holds it, then one commit names them. Returns the
 * commit response.
 */
export async function publishFiles(
  base: string,
  token: string,
  id: string,
  files: readonly RepoFile[],
  options: { revision?: string; replace?: boolean; title?: string; parentCommit?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const auth = { Authorization: `Bearer ${token}` };
  const entries = [];
  for (const f of files) {
    const sha = sha256Hex(f.bytes);
    const head = await fetch(`${base}/v1/models/${id}/uploads/${sha}`, {
      method: "HEAD",
      headers: auth,
    });
    await head.body?.cancel();
    if (head.status !== 200) {
      const up = await fetch(`${base}/v1/models/${id}/uploads/${sha}`, {
        method: "PUT",
        headers: auth,
        body: f.bytes as Uint8Array<ArrayBuffer>,
      });
      const body = await up.json();
      assert.ok(up.status === 201 || up.status === 200, `${f.path}: ${JSON.stringify(body)}`);
    }
    entries.push({ path: f.path, sha256: sha });
  }
  const q = new URLSearchParams({ revision: options.revision ?? "main" });
  const res = await fetch(`${base}/v1/models/${id}/commits?${q}`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({
      title: options.title ?? `Upload ${files.length} files`,
      files: entries,
      replace: options.replace ?? false,
      ...(options.parentCommit && { parentCommit: options.parentCommit }),
    }),
  });
  return { status: res.status, body: await res.json() };
}
