/**
 * The object store of an edge: the origin's store, read-only, through the routes the origin
 * exposes for it (`routes/store.ts`), so an edge runs the ordinary server over it and is itself an
 * origin for further edges.
 *
 * - **Refs** (`repos/<org>/<name>/refs.json`) are fetched with the repo's head commits in one
 *   request, and kept for {@link REFS_TTL_MS}; after that they are revalidated with
 *   `If-None-Match` (the origin answers 304 and the edge keeps what it has), and past half that
 *   time a request starts the revalidation in the background. When the origin
 *   cannot be reached, the last refs seen (kept on disk, so also after a restart) go on being
 *   served. A publish on the origin is therefore seen by an edge within the TTL; a revision named
 *   by commit id is resolved by the commit alone, so it is seen as soon as it exists.
 * - **Immutable objects** (commits, the records of packed files) are fetched once, checked where
 *   their key is a hash of their bytes, kept on disk and never revalidated.
 * - **Blobs** are read through the tiers (`edge_blobs.ts`).
 * - **Listing** asks the origin, or, when it is down, lists the repos whose refs are on disk.
 * - Every write is refused (403): an edge serves the origin's models, publishing is done there.
 * @module
 */
import { createHash } from "node:crypto";
import { HttpError } from "../http/http_error.ts";
import type { ObjectInfo, ObjectStore, RefValue } from "../store/object_store.ts";
import { checkKey } from "../store/object_store.ts";
import type { EdgeBlobs } from "./edge_blobs.ts";
import type { OriginClient } from "./origin_client.ts";

/** How long refs are served before they are revalidated with the origin. */
export const REFS_TTL_MS = 2000;

/** What the origin's refs route sends: the refs and the head commits they name. */
export interface RefsBundle {
  /** `tessera-edge-refs/1`. */
  readonly format: "tessera-edge-refs/1";
  /** The refs object's bytes, as text. */
  readonly refs: string;
  /** Head commits by id, each the commit object's bytes as text. */
  readonly commits: Readonly<Record<string, string>>;
}

/** Options of {@link openOriginObjectStore}. */
export interface OriginStoreOptions {
  /** The origin. */
  readonly origin: OriginClient;
  /** Blobs through the tiers. */
  readonly blobs: EdgeBlobs;
  /** Folder for refs, commits and records (kept across restarts). */
  readonly metaDir: string;
  /** Scratch folder (unused: an edge writes nothing, but the interface names one). */
  readonly scratchDir: string;
  /** How long refs are served before revalidating; {@link REFS_TTL_MS}. */
  readonly refsTtlMs?: number;
}

/** The edge store, with its refs counters. */
export interface OriginObjectStore extends ObjectStore {
  /** Refs answered from memory, revalidated (304), refetched (200), served stale (origin down). */
  refFigures(): { fresh: number; revalidated: number; fetched: number; stale: number };
}

interface CachedRefs {
  readonly bytes: Uint8Array;
  readonly etag: string;
  checkedAt: number;
}

const readOnly = () =>
  new HttpError(
    403,
    "read_only",
    "this server is an edge: it serves the origin's models; publish to the origin",
  );

const REFS = /^repos\/([^/]+)\/([^/]+)\/refs\.json$/;
const COMMIT = /^repos\/[^/]+\/[^/]+\/commits\/([0-9a-f]{40})\.json$/;
const BLOB = /^blobs\/([0-9a-f]{64})$/;

/**
 * Opens the edge's view of the origin's store.
 *
 * @example
 * ```ts ignore
 * const objects = await openOriginObjectStore({ origin, blobs, metaDir, scratchDir });
 * const store = await openRepoStore({ store: objects, gcOnOpen: false, importLegacy: false });
 * ```
 */
export async function openOriginObjectStore(
  options: OriginStoreOptions,
): Promise<OriginObjectStore> {
  const { origin, blobs, metaDir } = options;
  const ttl = options.refsTtlMs ?? REFS_TTL_MS;
  await Deno.mkdir(`${metaDir}/objects`, { recursive: true });
  await Deno.mkdir(options.scratchDir, { recursive: true });
  const refs = new Map<string, CachedRefs>();
  const pendingRefs = new Map<string, Promise<RefValue | null>>();
  const pendingObjects = new Map<string, Promise<Uint8Array | null>>();
  let fresh = 0, revalidated = 0, fetched = 0, stale = 0;

  const diskPath = (key: string) => `${metaDir}/objects/${key}`;
  async function writeDisk(key: string, bytes: Uint8Array) {
    const path = diskPath(key);
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const tmp = `${path}.${crypto.randomUUID()}`;
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  }
  const readDisk = (key: string) => Deno.readFile(diskPath(key)).catch(() => null);

  /** Keeps the commits a bundle carries as the immutable objects they are. */
  async function keepCommits(org: string, name: string, bundle: RefsBundle) {
    for (const [id, text] of Object.entries(bundle.commits)) {
      const bytes = new TextEncoder().encode(text);
      if (createHash("sha1").update(bytes).digest("hex") !== id) continue;
      const key = `repos/${org}/${name}/commits/${id}.json`;
      if (!(await readDisk(key))) await writeDisk(key, bytes);
    }
  }

  async function loadRefs(key: string, org: string, name: string): Promise<RefValue | null> {
    const cached = refs.get(key) ?? await (async () => {
      const disk = await readDisk(`${key}.edge`);
      if (!disk) return undefined;
      try {
        const v = JSON.parse(new TextDecoder().decode(disk)) as { refs: string; etag: string };
        const c = { bytes: new TextEncoder().encode(v.refs), etag: v.etag, checkedAt: 0 };
        refs.set(key, c);
        return c;
      } catch {
        return undefined;
      }
    })();
    let res: Response;
    try {
      res = await origin.request(`/v1/store/refs/${org}/${name}`, {
        headers: cached ? { "If-None-Match": cached.etag } : {},
      });
    } catch (e) {
      if (cached) {
        stale++;
        return { bytes: cached.bytes, etag: cached.etag };
      }
      throw e;
    }
    if (res.status === 304 && cached) {
      await res.body?.cancel();
      revalidated++;
      cached.checkedAt = Date.now();
      return { bytes: cached.bytes, etag: cached.etag };
    }
    if (res.status === 404) {
      await res.body?.cancel();
      refs.delete(key);
      await Deno.remove(diskPath(`${key}.edge`)).catch(() => {});
      return null;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new HttpError(502, "origin_bad_answer", `the origin answered ${res.status} for ${key}`);
    }
    const etag = res.headers.get("etag");
    const bundle = JSON.parse(new TextDecoder().decode(await origin.body(res))) as RefsBundle;
    if (bundle.format !== "tessera-edge-refs/1" || typeof bundle.refs !== "string" || !etag) {
      throw new HttpError(502, "origin_bad_answer", `the origin sent malformed refs for ${key}`);
    }
    fetched++;
    await keepCommits(org, name, bundle);
    const entry = { bytes: new TextEncoder().encode(bundle.refs), etag, checkedAt: Date.now() };
    refs.set(key, entry);
    await writeDisk(
      `${key}.edge`,
      new TextEncoder().encode(JSON.stringify({ refs: bundle.refs, etag })),
    );
    return { bytes: entry.bytes, etag };
  }

  async function loadObject(key: string): Promise<Uint8Array | null> {
    const disk = await readDisk(key);
    if (disk) return disk;
    const res = await origin.request(`/v1/store/objects/${key}`);
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new HttpError(502, "origin_bad_answer", `the origin answered ${res.status} for ${key}`);
    }
    const bytes = await origin.body(res);
    const commit = COMMIT.exec(key);
    if (commit && createHash("sha1").update(bytes).digest("hex") !== commit[1]) {
      throw new HttpError(502, "origin_corrupt", `the origin sent ${key} with another hash`);
    }
    await writeDisk(key, bytes);
    return bytes;
  }

  const store: OriginObjectStore = {
    url: origin.base,
    scratchDir: options.scratchDir,

    putObject: () => Promise.reject(readOnly()),
    putRef: () => Promise.reject(readOnly()),
    deleteRef: () => Promise.reject(readOnly()),
    deleteObject: () => Promise.reject(readOnly()),

    async getObject(key, maxBytes) {
      checkKey(key);
      const blob = BLOB.exec(key);
      if (blob) {
        const o = await blobs.open(blob[1]);
        if (!o) return null;
        try {
          if (o.size > maxBytes) {
            throw new Error(`object ${key} is ${o.size} bytes, more than the ${maxBytes} expected`);
          }
          return await o.readAt(0, o.size);
        } finally {
          o.close();
        }
      }
      let p = pendingObjects.get(key);
      if (!p) {
        p = loadObject(key);
        pendingObjects.set(key, p);
        p.finally(() => pendingObjects.delete(key)).catch(() => {});
      }
      const bytes = await p;
      if (bytes && bytes.length > maxBytes) {
        throw new Error(
          `object ${key} is ${bytes.length} bytes, more than the ${maxBytes} expected`,
        );
      }
      return bytes;
    },

    openObject(key) {
      checkKey(key);
      const blob = BLOB.exec(key);
      if (!blob) return Promise.resolve(null);
      return blobs.open(blob[1]);
    },

    async statObject(key) {
      checkKey(key);
      const blob = BLOB.exec(key);
      if (blob) {
        const o = await blobs.open(blob[1]);
        if (!o) return null;
        o.close();
        return { key, size: o.size, modifiedMs: 0 };
      }
      const bytes = await store.getObject(key, 64 << 20);
      return bytes ? { key, size: bytes.length, modifiedMs: 0 } : null;
    },

    async *list(prefix) {
      let listed: ObjectInfo[];
      try {
        const res = await origin.request(`/v1/store/list?prefix=${encodeURIComponent(prefix)}`);
        if (res.status !== 200) throw new Error(`the origin answered ${res.status}`);
        listed = JSON.parse(new TextDecoder().decode(await origin.body(res))).objects;
      } catch (e) {
        if (!(e instanceof HttpError) || e.status !== 503) throw e;
        // The origin is down: the repos whose refs this edge holds.
        listed = [];
        const root = `${metaDir}/objects/repos`;
        const dirs = async (path: string) => {
          try {
            return (await Array.fromAsync(Deno.readDir(path))).filter((d) => d.isDirectory);
          } catch {
            return [];
          }
        };
        for (const org of await dirs(root)) {
          for (const name of await dirs(`${root}/${org.name}`)) {
            const key = `repos/${org.name}/${name.name}/refs.json`;
            if (!key.startsWith(prefix) || !(await readDisk(`${key}.edge`))) continue;
            listed.push({ key, size: 0, modifiedMs: 0 });
          }
        }
      }
      yield* listed;
    },

    async getRef(key) {
      checkKey(key);
      const m = REFS.exec(key);
      if (!m) return null; // an edge holds no uploads of its own
      const revalidate = () => {
        let p = pendingRefs.get(key);
        if (!p) {
          p = loadRefs(key, m[1], m[2]);
          pendingRefs.set(key, p);
          p.finally(() => pendingRefs.delete(key)).catch(() => {});
        }
        return p;
      };
      const cached = refs.get(key);
      const age = cached ? Date.now() - cached.checkedAt : Infinity;
      if (cached && age < ttl) {
        fresh++;
        // Past half its life, refs are revalidated in the background, so a steady stream of
        // requests never waits for the origin (a tile through the edge paid a 40 ms round trip
        // every 2 s), while what is served is never older than the TTL.
        if (age > ttl / 2) revalidate().catch(() => {});
        return { bytes: cached.bytes, etag: cached.etag };
      }
      return await revalidate();
    },

    close: () => Promise.resolve(),
    refFigures: () => ({ fresh, revalidated, fetched, stale }),
  };
  return store;
}
