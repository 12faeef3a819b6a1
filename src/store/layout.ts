/**
 * The models directory on disk: `<root>/<org>/<name>/<revision>/model.tsr`, with sidecar files
 * (`config.json`, tokenizer files, …) beside the container. Only names that pass
 * `names.ts` become paths. A revision exists once its folder holds `model.tsr`.
 * @module
 */
import { checkIdPart, checkRevision, CONTAINER_FILE, ID_PART, REVISION, SIDECAR } from "./names.ts";

/** A validated model revision and where it lives. */
export interface RevisionRef {
  /** The org part of the id. */
  readonly org: string;
  /** The name part of the id. */
  readonly name: string;
  /** The revision (branch) name. */
  readonly revision: string;
  /** The revision folder. */
  readonly dir: string;
  /** The container path in it. */
  readonly containerPath: string;
}

/** A model and its revisions, as listed. */
export interface ModelListing {
  /** `org/name`. */
  readonly id: string;
  /** Revisions that hold a container, sorted. */
  readonly revisions: string[];
}

/** A sidecar file of a revision. */
export interface SidecarStat {
  /** File name. */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** Modification time, ms. */
  readonly mtimeMs: number;
}

/**
 * The validated reference to `org/name@revision` under `root`; throws `bad_name`.
 *
 * @example
 * ```ts
 * revisionRef("./models", "demo", "stories260k", "main").containerPath;
 * // "./models/demo/stories260k/main/model.tsr"
 * ```
 */
export function revisionRef(
  root: string,
  org: string,
  name: string,
  revision: string | null | undefined,
): RevisionRef {
  checkIdPart(org, "org");
  checkIdPart(name, "name");
  const rev = checkRevision(revision);
  const dir = `${root}/${org}/${name}/${rev}`;
  return { org, name, revision: rev, dir, containerPath: `${dir}/${CONTAINER_FILE}` };
}

/** The folder of model `org/name`. */
export function modelDir(root: string, org: string, name: string): string {
  return `${root}/${checkIdPart(org, "org")}/${checkIdPart(name, "name")}`;
}

async function entries(dir: string): Promise<Deno.DirEntry[]> {
  try {
    const out: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(dir)) out.push(e);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return [];
    throw e;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Revisions of `org/name` that hold a container, sorted by name. */
export async function listRevisions(root: string, org: string, name: string): Promise<string[]> {
  const dir = modelDir(root, org, name);
  const out: string[] = [];
  for (const e of await entries(dir)) {
    if (!e.isDirectory || !REVISION.test(e.name) || e.name === "." || e.name === "..") continue;
    if (await isFile(`${dir}/${e.name}/${CONTAINER_FILE}`)) out.push(e.name);
  }
  return out;
}

/** Every model under `root` with at least one revision, sorted by id. */
export async function listModels(root: string): Promise<ModelListing[]> {
  const out: ModelListing[] = [];
  for (const o of await entries(root)) {
    if (!o.isDirectory || !ID_PART.test(o.name)) continue;
    for (const n of await entries(`${root}/${o.name}`)) {
      if (!n.isDirectory || !ID_PART.test(n.name)) continue;
      let revisions: string[];
      try {
        revisions = await listRevisions(root, o.name, n.name);
      } catch {
        continue; // a folder whose name breaks a rule other than the pattern (reserved org)
      }
      if (revisions.length > 0) out.push({ id: `${o.name}/${n.name}`, revisions });
    }
  }
  return out;
}

/** The sidecar files of a revision folder, sorted by name. */
export async function listSidecars(dir: string): Promise<SidecarStat[]> {
  const out: SidecarStat[] = [];
  for (const e of await entries(dir)) {
    if (!e.isFile || !SIDECAR.test(e.name)) continue;
    try {
      const s = await Deno.stat(`${dir}/${e.name}`);
      out.push({ name: e.name, size: s.size, mtimeMs: s.mtime?.getTime() ?? 0 });
    } catch {
      // removed meanwhile
    }
  }
  return out;
}
