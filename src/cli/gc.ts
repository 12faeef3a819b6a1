/**
 * `gc [--store URL | --models DIR] [--dry-run] [--grace-h N] [--upload-ttl-h N]`: lists and
 * removes what no branch reaches: commits whose refs were never switched (a publish killed, or the
 * object store killed, before its last write), contents that no commit or pending upload names,
 * expired upload records, and, on S3, incomplete multipart uploads. On shared storage nothing
 * younger than the age grace (1 hour) is touched, since a replica may be publishing it; `--grace-h
 * 0` is for a store no server is writing to. A folder store must not be in use by a server (its
 * lock says so); servers also collect at start and hourly.
 * @module
 */
import { parseArgs } from "node:util";
import { openRepoStore, SHARED_GC_GRACE_MS, UPLOAD_TTL_MS } from "../store/repo_store.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const GC_USAGE =
  "gc [--store file:DIR|s3://bucket/prefix | --models DIR] [--dry-run] [--grace-h N] " +
  "[--upload-ttl-h N]";

function hours(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${name} must be a number of hours >= 0: received "${v}"`);
  }
  return Math.round(n * 3600 * 1000);
}

/** Runs `gc`; returns the exit code. */
export async function gc(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      store: { type: "string" },
      models: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "grace-h": { type: "string" },
      "upload-ttl-h": { type: "string" },
    },
  });
  if (positionals.length > 0) throw new UsageError(GC_USAGE);
  if (values.store !== undefined && values.models !== undefined) {
    throw new UsageError("give --store or --models, not both");
  }
  const where = values.store ?? values.models ?? Deno.env.get("TESSERA_MODELS") ?? "./models";
  const grace = hours("grace-h", values["grace-h"]);
  const ttl = hours("upload-ttl-h", values["upload-ttl-h"]);
  const dryRun = values["dry-run"];
  const store = await openRepoStore({
    store: where,
    importLegacy: false,
    gcOnOpen: false,
    ...(grace !== undefined && { gcGraceMs: grace }),
    uploadTtlMs: ttl ?? UPLOAD_TTL_MS,
  });
  try {
    const verb = dryRun ? "would remove" : "removed";
    const r = await store.gc({ dryRun });
    for (const key of r.removed) console.log(`${verb} ${key}`);
    const leftovers = await store.objects.sweepIncomplete?.(grace ?? SHARED_GC_GRACE_MS, dryRun);
    for (const what of leftovers ?? []) console.log(`${verb} ${what}`);
    console.log(
      `${store.objects.url}: ${verb} ${r.commits} commits, ${r.blobs} contents (${r.bytes} ` +
        `bytes), ${r.uploads} upload records${
          leftovers ? `, ${leftovers.length} incomplete uploads` : ""
        }; kept ${r.young} unreferenced objects younger than the grace`,
    );
    if (leftovers === null) {
      console.log("(this object store does not list incomplete multipart uploads)");
    }
    return 0;
  } finally {
    await store.close();
  }
}
