/**
 * The models folder layout before repos had commits, `<root>/<org>/<name>/<revision>/model.tsr`
 * with sidecar files beside the container, is imported when the store opens: each revision
 * becomes a commit on the branch of the same name, its container and files become objects (linked,
 * not copied), and the old folder is removed. A folder that cannot be imported (a container that
 * does not open, a branch name the store refuses) stays where it is and is named in the log.
 * @module
 */
import { nativeBackends } from "../codec_native/backends.ts";
import { openContainer } from "../container/open.ts";
import { openPositionalReader } from "../io/positional_reader.ts";
import { sha256 } from "../hash/sha256.ts";
import type { StagedFile } from "./ingest.ts";
import { checkBranch, checkIdPart, ORIGINAL_FILE } from "./names.ts";
import { publish } from "./publish.ts";
import type { StoreCore } from "./store_core.ts";

/** The container's name in a legacy revision folder. */
export const LEGACY_CONTAINER = "model.tsr";
/** Top-level names of the store's own layout, never legacy orgs. */
const STORE_NAMES = new Set(["blobs", "repos", "packed", "uploads"]);

async function dirs(path: string): Promise<string[]> {
  try {
    const out: string[] = [];
    for await (const e of Deno.readDir(path)) if (e.isDirectory) out.push(e.name);
    return out.sort();
  } catch {
    return [];
  }
}

async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const h = sha256();
  let size = 0;
  const f = await Deno.open(path);
  for await (const chunk of f.readable) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha256: h.hex(), size };
}

/**
 * Links `path` into scratch and stages it as a file stored as is. A link, not a move: until the
 * import has published, the folder keeps every file.
 */
async function stageRaw(core: StoreCore, path: string): Promise<StagedFile> {
  const scratch = `${core.objects.scratchDir}/legacy-${crypto.randomUUID()}`;
  await Deno.link(path, scratch);
  const { sha256, size } = await hashFile(scratch);
  return { sha256, size, container: null, mode: null, scratchFile: scratch };
}

/** Links the container at `path` into scratch and stages it as the file it holds. */
async function stageContainer(core: StoreCore, path: string): Promise<StagedFile> {
  const reader = await openPositionalReader(path);
  let index;
  try {
    index = (await openContainer(reader, nativeBackends())).index;
  } finally {
    reader.close();
  }
  const scratch = `${core.objects.scratchDir}/legacy-${crypto.randomUUID()}.tsr`;
  await Deno.link(path, scratch);
  const c = await hashFile(scratch);
  return {
    sha256: index.source.sha256,
    size: index.source.size,
    container: { sha256: c.sha256, size: c.size },
    mode: index.mode,
    scratchFile: scratch,
  };
}

/**
 * Imports every legacy revision folder under `root` into the store; returns the ids imported.
 *
 * @example
 * ```ts
 * for (const id of await importLegacyLayout(core, "./models")) console.log(`imported ${id}`);
 * ```
 */
export async function importLegacyLayout(core: StoreCore, root: string): Promise<string[]> {
  const imported: string[] = [];
  for (const org of await dirs(root)) {
    if (STORE_NAMES.has(org) || org.startsWith(".")) continue;
    for (const name of await dirs(`${root}/${org}`)) {
      for (const rev of await dirs(`${root}/${org}/${name}`)) {
        const dir = `${root}/${org}/${name}/${rev}`;
        try {
          await Deno.stat(`${dir}/${LEGACY_CONTAINER}`);
        } catch {
          continue;
        }
        try {
          checkIdPart(org, "org");
          checkIdPart(name, "name");
          checkBranch(rev);
          const files = [{
            path: ORIGINAL_FILE,
            content: await stageContainer(core, `${dir}/${LEGACY_CONTAINER}`),
          }];
          for await (const e of Deno.readDir(dir)) {
            if (!e.isFile || e.name.startsWith(".") || e.name === LEGACY_CONTAINER) continue;
            files.push({ path: e.name, content: await stageRaw(core, `${dir}/${e.name}`) });
          }
          await publish(core, org, name, rev, {
            title: `Import ${org}/${name}@${rev} from the folder layout`,
            files,
          });
          await Deno.remove(dir, { recursive: true });
          await Deno.remove(`${root}/${org}/${name}`).catch(() => {}); // only when empty
          await Deno.remove(`${root}/${org}`).catch(() => {});
          imported.push(`${org}/${name}@${rev}`);
        } catch (e) {
          core.log(`WARNING ${dir} was not imported: ${(e as Error).message}`);
        }
      }
    }
  }
  return imported;
}
