/**
 * The {@link ObjectStore} over an S3-compatible bucket (`--store s3://bucket/prefix`): every key
 * of the store is an object under the prefix, so any number of server processes can share one
 * bucket with nothing on local disk but scratch space for uploads being packed.
 *
 * - **Objects** are written create-if-absent: `PUT` (or, from 16 MiB, a multipart upload) with
 *   `If-None-Match: *`, or, where the store ignores it, after a `HEAD` finds no object (a race
 *   between two writers of one content-addressed key writes the same bytes twice). Every write is
 *   verified: each body is sent with `Content-MD5`, each part's entity tag must be its MD5, and the
 *   object's must be the MD5 of the whole or the multipart tag (MD5 of the parts' MD5s, `-N`),
 *   with its size checked by `HEAD`; a failed multipart upload is aborted.
 * - **Reads** are ranged GETs checked against the object's size and entity tag
 *   (`s3_object_reader.ts`). Small whole reads (`getObject`, refs) compare the body's MD5 with a
 *   plain entity tag, and read again on a mismatch: a store whose writes are not atomic (s3rver
 *   rewrites files in place) can then never hand out a torn ref.
 * - **Refs** are replaced by compare-and-swap. The store's support is probed when it opens: a
 *   probe object is created twice with `If-None-Match: *` and replaced with a wrong `If-Match`;
 *   two 412s mean **conditional** mode (AWS S3 since 2024, MinIO, R2): create is `If-None-Match:
 *   *`, replace is `If-Match: <etag>`, and delete writes a tombstone with `If-Match` (DELETE has
 *   no precondition on most stores), which reads as absent and which a create replaces with
 *   `If-Match` on the tombstone (tombstones stay: deleting one safely would need the conditional
 *   DELETE that most stores lack; each is 21 bytes). Otherwise **lease** mode: every ref write takes the ref's lease
 *   (`s3_ref_lease.ts`), compares the entity tag and writes. A conflict either way is
 *   `ref_conflict`, which a publish answers by starting over on the new head (or 412).
 * - **Listing** is `ListObjectsV2`, paginated; the store's own bookkeeping (`.tessera/`: leases,
 *   probes) is never listed.
 * - There is no lock to take: garbage collection across replicas is made safe by an age grace
 *   (`gc.ts`): nothing younger than it is collected, so a publish on another replica has that
 *   long between storing its objects and switching its ref.
 * @module
 */
import { createHash } from "node:crypto";
import { StoreError } from "./errors.ts";
import {
  checkKey,
  type ObjectInfo,
  type ObjectStore,
  type RefCondition,
  type RefValue,
} from "./object_store.ts";
import { createS3Client, S3Error, s3Failure, xmlBlocks, xmlValues } from "./s3_client.ts";
import { type S3Config, s3ConfigFromEnv } from "./s3_config.ts";
import { openS3Object } from "./s3_object_reader.ts";
import {
  LEASE_TIMING,
  type LeaseIo,
  type LeaseState,
  type LeaseTiming,
  withLease,
} from "./s3_ref_lease.ts";

/** How refs are compared and swapped: by the store's preconditions, or under a lease. */
export type RefMode = "conditional" | "lease";

/** Options of {@link openS3ObjectStore}. */
export interface S3StoreOptions {
  /** Environment to read the AWS variables from; `Deno.env` by default. */
  readonly env?: Record<string, string | undefined>;
  /** Local scratch folder; a fresh temporary one (removed on close) by default. */
  readonly scratchDir?: string;
  /** Ref mode; probed by default. */
  readonly refMode?: RefMode;
  /** Timing of lease mode. */
  readonly leaseTiming?: LeaseTiming;
  /** Objects from this size are sent as multipart uploads; 16 MiB. */
  readonly multipartFrom?: number;
  /** Time to response headers of each request; 30 s. */
  readonly timeoutMs?: number;
}

/** The S3 store, with what its probe found. */
export interface S3ObjectStore extends ObjectStore {
  /** The bucket configuration. */
  readonly config: S3Config;
  /** How refs are swapped on this store. */
  readonly refMode: RefMode;
}

/** The body of a deleted ref in conditional mode. */
const TOMBSTONE = new TextEncoder().encode("tessera-deleted-ref/1\n");
/** Keys of the store's own bookkeeping, relative to the prefix. */
const INTERNAL = ".tessera/";
/** Smallest part S3 accepts (except the last). */
const MIN_PART = 5 << 20;
/** Most parts of one upload. */
const MAX_PARTS = 10_000;

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest();
const md5Hex = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");
const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((v, i) => v === b[i]);
const unquote = (etag: string | null) => (etag ?? "").replace(/^W\//, "").replace(/"/g, "");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function refConflict(key: string): StoreError {
  return new StoreError("ref_conflict", `ref ${key} changed since it was read`);
}

/**
 * Opens the store at `url` (`s3://bucket/prefix`): reads the AWS configuration, checks that the
 * bucket answers, and probes for conditional writes unless `refMode` is given.
 *
 * @example
 * ```ts ignore
 * const store = await openS3ObjectStore("s3://models/hub");
 * console.log(store.refMode); // "conditional" on AWS S3 and MinIO
 * ```
 */
export async function openS3ObjectStore(
  url: string,
  options: S3StoreOptions = {},
): Promise<S3ObjectStore> {
  const config = s3ConfigFromEnv(url, options.env ?? Deno.env.toObject());
  const s3 = createS3Client(config, options.timeoutMs);
  const full = (key: string) => (config.prefix ? `${config.prefix}/${key}` : key);
  const multipartFrom = Math.max(MIN_PART, options.multipartFrom ?? 16 << 20);
  const timing = options.leaseTiming ?? LEASE_TIMING;
  const ownScratch = options.scratchDir === undefined;
  const scratchDir = options.scratchDir ??
    await Deno.makeTempDir({ prefix: "tessera-s3-scratch-" });
  await Deno.mkdir(scratchDir, { recursive: true });

  // The bucket must answer before anything else is tried.
  const probeList = await s3.request("", {
    query: { "list-type": "2", "max-keys": "1", prefix: full(INTERNAL) },
  });
  if (probeList.status !== 200) {
    throw new StoreError(
      "bad_name",
      `${url}: ${(await s3Failure(probeList, `list ${config.bucket}`)).message}`,
    );
  }
  await probeList.body?.cancel();

  /** PUT of small `bytes`, verified by its MD5; resolves to the response (status 2xx or 412). */
  async function put(key: string, bytes: Uint8Array, headers: Record<string, string> = {}) {
    const digest = md5(bytes);
    const res = await s3.request(full(key), {
      method: "PUT",
      body: bytes,
      headers: {
        "Content-MD5": btoa(String.fromCharCode(...digest)),
        "Content-Type": "application/octet-stream",
        ...headers,
      },
    });
    if (res.status === 412 || res.status === 409) {
      await res.body?.cancel();
      return { status: res.status, etag: null };
    }
    if (!res.ok) throw await s3Failure(res, `PUT ${key}`);
    await res.body?.cancel();
    // A plain entity tag is the body's MD5 (encrypted objects have other tags: Content-MD5 made
    // the store check those bodies).
    const etag = res.headers.get("etag");
    if (!etag) throw new S3Error(res.status, null, `PUT ${key}: no ETag in the answer`);
    const tag = unquote(etag).toLowerCase();
    if (/^[0-9a-f]{32}$/.test(tag) && tag !== digest.toString("hex")) {
      throw new S3Error(
        res.status,
        null,
        `PUT ${key}: the store answered ETag ${etag}, not the MD5`,
      );
    }
    return { status: res.status, etag };
  }

  async function head(
    key: string,
  ): Promise<{ size: number; modifiedMs: number; etag: string } | null> {
    const res = await s3.request(full(key), { method: "HEAD" });
    await res.body?.cancel();
    if (res.status === 404) return null;
    if (!res.ok) throw new S3Error(res.status, null, `HEAD ${key}: ${res.status}`);
    return {
      size: Number(res.headers.get("content-length") ?? 0),
      modifiedMs: Date.parse(res.headers.get("last-modified") ?? "") || 0,
      etag: res.headers.get("etag") ?? "",
    };
  }

  /**
   * The whole of object `key` (at most `maxBytes`), or null. A body is accepted when its MD5 is
   * its entity tag, or, for a tag that is no MD5 (encrypted or multipart objects), when two reads
   * in a row agree; anything else is read again: a store whose writes are not atomic (s3rver
   * truncates and rewrites files in place) can then never hand out a torn ref.
   */
  async function getWhole(
    key: string,
    maxBytes: number,
  ): Promise<{ bytes: Uint8Array; etag: string } | null> {
    let last: { bytes: Uint8Array; etag: string } | null = null;
    for (let attempt = 0;; attempt++) {
      if (attempt > 0) await sleep(Math.min(5 + attempt * 10, 100));
      if (attempt >= 30) {
        throw new S3Error(200, null, `GET ${key}: no consistent read after ${attempt} tries`);
      }
      const res = await s3.request(full(key));
      if (res.status === 404) {
        await res.body?.cancel();
        return null;
      }
      if (!res.ok) throw await s3Failure(res, `GET ${key}`);
      const declared = Number(res.headers.get("content-length") ?? -1);
      if (declared > maxBytes) {
        await res.body?.cancel();
        throw new Error(`object ${key} is ${declared} bytes, more than the ${maxBytes} expected`);
      }
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        if (e instanceof TypeError) continue; // cut short: the file shrank under the server
        throw e;
      }
      const etag = res.headers.get("etag") ?? "";
      if (declared >= 0 && bytes.length !== declared) continue;
      const tag = unquote(etag).toLowerCase();
      if (/^[0-9a-f]{32}$/.test(tag) && tag === md5Hex(bytes)) return { bytes, etag };
      if (tag !== "" && last && last.etag === etag && sameBytes(last.bytes, bytes)) {
        return { bytes, etag };
      }
      last = { bytes, etag };
    }
  }

  /** Uploads local file `path` as `key` in parts; false when `ifNoneMatch` finds it exists. */
  async function putMultipart(key: string, path: string, size: number): Promise<boolean> {
    const partBytes = Math.max(multipartFrom, Math.ceil(size / MAX_PARTS / MIN_PART) * MIN_PART);
    const init = await s3.request(full(key), {
      method: "POST",
      query: { uploads: "" },
      headers: { "Content-Type": "application/octet-stream" },
    });
    if (!init.ok) throw await s3Failure(init, `start the multipart upload of ${key}`);
    const uploadId = xmlValues(await init.text(), "UploadId")[0];
    if (!uploadId) throw new S3Error(init.status, null, `${key}: no UploadId in the answer`);
    const abort = async () => {
      const r = await s3.request(full(key), { method: "DELETE", query: { uploadId } })
        .catch(() => null);
      await r?.body?.cancel();
    };
    const file = await Deno.open(path, { read: true });
    try {
      const whole = createHash("md5");
      const partMd5s: Uint8Array[] = [];
      const etags: string[] = [];
      const sendPart = async (n: number, bytes: Uint8Array) => {
        const digest = md5(bytes);
        const r = await s3.request(full(key), {
          method: "PUT",
          query: { partNumber: String(n), uploadId },
          body: bytes,
          headers: { "Content-MD5": btoa(String.fromCharCode(...digest)) },
        });
        if (!r.ok) throw await s3Failure(r, `upload part ${n} of ${key}`);
        await r.body?.cancel();
        const etag = r.headers.get("etag") ?? "";
        if (unquote(etag).toLowerCase() !== digest.toString("hex")) {
          throw new S3Error(r.status, null, `part ${n} of ${key}: ETag ${etag} is not its MD5`);
        }
        partMd5s[n - 1] = digest;
        etags[n - 1] = etag;
      };
      // Two parts in flight: one being sent while the next is read and hashed.
      let inFlight: Promise<void> | null = null;
      for (let n = 1, at = 0; at < size; n++) {
        const bytes = new Uint8Array(Math.min(partBytes, size - at));
        for (let filled = 0; filled < bytes.length;) {
          const got = await file.read(bytes.subarray(filled));
          if (got === null) throw new Error(`${path} ended early while uploading ${key}`);
          filled += got;
        }
        whole.update(bytes);
        at += bytes.length;
        const sending = sendPart(n, bytes);
        if (inFlight) await inFlight;
        inFlight = sending;
      }
      if (inFlight) await inFlight;
      const xml = `<CompleteMultipartUpload>${
        etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`)
          .join("")
      }</CompleteMultipartUpload>`;
      const headers: Record<string, string> = { "Content-Type": "application/xml" };
      if (refMode === "conditional") headers["If-None-Match"] = "*";
      const done = await s3.request(full(key), {
        method: "POST",
        query: { uploadId },
        body: new TextEncoder().encode(xml),
        headers,
        timeoutMs: 10 * 60_000,
      });
      if (done.status === 412) {
        await done.body?.cancel();
        await abort();
        return false;
      }
      // S3 may answer 200 with an error document when completing fails late.
      const text = await done.text();
      if (!done.ok || xmlValues(text, "Code").length > 0) {
        throw new S3Error(
          done.status,
          xmlValues(text, "Code")[0] ?? null,
          `complete ${key}: ${text.slice(0, 200)}`,
        );
      }
      const combined = createHash("md5");
      for (const d of partMd5s) combined.update(d);
      const accepted = [
        `${combined.digest("hex")}-${partMd5s.length}`,
        whole.digest("hex"),
      ];
      const stored = await head(key);
      if (
        !stored || stored.size !== size || !accepted.includes(unquote(stored.etag).toLowerCase())
      ) {
        throw new S3Error(
          200,
          null,
          `${key}: the stored object (${stored?.size} bytes, ETag ${stored?.etag}) is not the ` +
            `${size} bytes sent (${accepted.join(" or ")})`,
        );
      }
      return true;
    } catch (e) {
      await abort();
      throw e;
    } finally {
      file.close();
    }
  }

  // Probe: two 412s to the two preconditions mean the store evaluates them on writes.
  let refMode: RefMode;
  if (options.refMode) {
    refMode = options.refMode;
  } else {
    const probe = `${INTERNAL}probe-${crypto.randomUUID()}`;
    const body = new TextEncoder().encode("probe\n");
    try {
      await put(probe, body, { "If-None-Match": "*" });
      const again = await put(probe, body, { "If-None-Match": "*" });
      const wrong = await put(probe, body, { "If-Match": '"00000000000000000000000000000000"' });
      refMode = again.status === 412 && wrong.status === 412 ? "conditional" : "lease";
    } finally {
      const r = await s3.request(full(probe), { method: "DELETE" }).catch(() => null);
      await r?.body?.cancel();
    }
  }

  const leaseIo = (key: string): LeaseIo => {
    const lk = `${INTERNAL}locks/${key}`;
    return {
      async read() {
        const v = await getWhole(lk, 4096).catch(() => null);
        if (!v) return null;
        try {
          const s = JSON.parse(new TextDecoder().decode(v.bytes));
          return typeof s?.owner === "string" && typeof s?.expiresMs === "number"
            ? s as LeaseState
            : null;
        } catch {
          return null;
        }
      },
      async write(state) {
        await put(lk, new TextEncoder().encode(JSON.stringify(state)));
      },
      async remove() {
        const r = await s3.request(full(lk), { method: "DELETE" });
        await r.body?.cancel();
      },
    };
  };

  const isTombstone = (bytes: Uint8Array) => sameBytes(bytes, TOMBSTONE);

  async function putRefConditional(key: string, bytes: Uint8Array, condition: RefCondition) {
    if ("ifMatch" in condition) {
      const r = await put(key, bytes, { "If-Match": condition.ifMatch });
      if (r.status === 412 || r.status === 409) throw refConflict(key);
      return r.etag!;
    }
    const r = await put(key, bytes, { "If-None-Match": "*" });
    if (r.etag) return r.etag;
    // Something is there: a tombstone of a deleted ref counts as absent.
    const cur = await getWhole(key, 1 << 20);
    if (!cur || !isTombstone(cur.bytes)) throw refConflict(key);
    const again = await put(key, bytes, { "If-Match": cur.etag });
    if (!again.etag) throw refConflict(key);
    return again.etag;
  }

  const store: S3ObjectStore = {
    url: `s3://${config.bucket}${config.prefix ? `/${config.prefix}` : ""}`,
    scratchDir,
    config,
    refMode,

    async putObject(key, source) {
      checkKey(key);
      try {
        if ("bytes" in source) {
          if (refMode === "conditional") {
            return (await put(key, source.bytes, { "If-None-Match": "*" })).etag !== null;
          }
          if (await head(key)) return false;
          await put(key, source.bytes);
          return true;
        }
        const size = (await Deno.stat(source.file)).size;
        // Even in conditional mode: no gigabytes are sent for a content already stored.
        if (await head(key)) return false;
        if (size < multipartFrom) {
          const bytes = await Deno.readFile(source.file);
          if (refMode === "conditional") {
            return (await put(key, bytes, { "If-None-Match": "*" })).etag !== null;
          }
          await put(key, bytes);
          return true;
        }
        return await putMultipart(key, source.file, size);
      } finally {
        if ("file" in source) await Deno.remove(source.file).catch(() => {});
      }
    },

    async getObject(key, maxBytes) {
      checkKey(key);
      return (await getWhole(key, maxBytes))?.bytes ?? null;
    },

    openObject(key) {
      checkKey(key);
      return openS3Object(s3, full(key), key);
    },

    async statObject(key) {
      checkKey(key);
      const h = await head(key);
      return h ? { key, size: h.size, modifiedMs: h.modifiedMs } : null;
    },

    async deleteObject(key) {
      checkKey(key);
      const r = await s3.request(full(key), { method: "DELETE" });
      await r.body?.cancel();
      if (!r.ok && r.status !== 404) {
        throw new S3Error(r.status, null, `DELETE ${key}: ${r.status}`);
      }
    },

    async *list(prefix) {
      const base = config.prefix ? `${config.prefix}/` : "";
      let token: string | undefined;
      do {
        const query: Record<string, string> = { "list-type": "2", prefix: base + prefix };
        if (token) query["continuation-token"] = token;
        const res = await s3.request("", { query });
        if (!res.ok) throw await s3Failure(res, `list ${prefix}`);
        const xml = await res.text();
        for (const block of xmlBlocks(xml, "Contents")) {
          const key = (xmlValues(block, "Key")[0] ?? "").slice(base.length);
          if (key.startsWith(INTERNAL) || key === "") continue;
          yield {
            key,
            size: Number(xmlValues(block, "Size")[0] ?? 0),
            modifiedMs: Date.parse(xmlValues(block, "LastModified")[0] ?? "") || 0,
          } satisfies ObjectInfo;
        }
        token = xmlValues(xml, "IsTruncated")[0] === "true"
          ? xmlValues(xml, "NextContinuationToken")[0]
          : undefined;
      } while (token);
    },

    async getRef(key) {
      checkKey(key);
      const v = await getWhole(key, 16 << 20);
      if (!v || isTombstone(v.bytes)) return null;
      return { bytes: v.bytes, etag: v.etag } satisfies RefValue;
    },

    putRef(key, bytes, condition) {
      checkKey(key);
      if (isTombstone(bytes)) throw new StoreError("bad_name", `${key}: reserved ref content`);
      if (refMode === "conditional") return putRefConditional(key, bytes, condition);
      return withLease(leaseIo(key), async (stillHeld) => {
        const cur = await getWhole(key, 16 << 20);
        const ok = "ifMatch" in condition ? cur?.etag === condition.ifMatch : cur === null;
        if (!ok || !stillHeld()) throw refConflict(key);
        return (await put(key, bytes)).etag!;
      }, timing).catch((e) => {
        if (e instanceof Error && e.name === "LeaseTimeout") throw refConflict(key);
        throw e;
      });
    },

    async deleteRef(key, etag) {
      checkKey(key);
      if (refMode === "conditional") {
        const r = await put(key, TOMBSTONE, { "If-Match": etag });
        if (!r.etag) throw refConflict(key);
        return;
      }
      await withLease(leaseIo(key), async (stillHeld) => {
        const cur = await getWhole(key, 16 << 20);
        if (cur?.etag !== etag || !stillHeld()) throw refConflict(key);
        const r = await s3.request(full(key), { method: "DELETE" });
        await r.body?.cancel();
      }, timing).catch((e) => {
        if (e instanceof Error && e.name === "LeaseTimeout") throw refConflict(key);
        throw e;
      });
    },

    async sweepIncomplete(olderThanMs, dryRun = false) {
      const base = config.prefix ? `${config.prefix}/` : "";
      const res = await s3.request("", { query: { uploads: "", prefix: base } });
      const xml = await res.text();
      // Some emulators do not list uploads (s3rver answers NotImplemented).
      if (!res.ok) return null;
      const cutoff = Date.now() - olderThanMs;
      const out: string[] = [];
      for (const block of xmlBlocks(xml, "Upload")) {
        const key = xmlValues(block, "Key")[0] ?? "";
        const uploadId = xmlValues(block, "UploadId")[0];
        const started = Date.parse(xmlValues(block, "Initiated")[0] ?? "");
        if (!uploadId || !(started < cutoff)) continue;
        out.push(`${key.slice(base.length)} (incomplete upload ${uploadId})`);
        if (dryRun) continue;
        const r = await s3.request(key, { method: "DELETE", query: { uploadId } });
        await r.body?.cancel();
      }
      return out;
    },

    async close() {
      if (ownScratch) await Deno.remove(scratchDir, { recursive: true }).catch(() => {});
    },
  };
  return store;
}
