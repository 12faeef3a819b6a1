/**
 * `import <dir> <models>/<org>/<name> [--revision B] [--message M] [--mode fast|best]`: packs a
 * local folder (a Hugging Face cache snapshot, say) straight into a store, as one commit whose
 * tree is exactly the folder: safetensors files become containers, other files are kept as they
 * are. The store must not be in use by a running server (use `push` for that); interrupted, it
 * publishes nothing.
 * @module
 */
import { parseArgs } from "node:util";
import type { Mode } from "../../codec/chunk_encode.ts";
import { discardStaged, type StagedFile } from "../store/ingest.ts";
import type { FileChange } from "../store/publish.ts";
import { openRepoStore } from "../store/repo_store.ts";
import { folderFiles } from "./folder_files.ts";
import { Interrupted, INTERRUPTED_EXIT, listenForInterrupt } from "./interrupt.ts";
import { formatBytes, progressBar } from "./progress.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const IMPORT_USAGE =
  "import <dir> <models>/<org>/<name> [--revision B] [--message M] [--mode fast|best]";

/** `<models>/<org>/<name>` split into the store folder and the model id. */
export function splitTarget(target: string): { store: string; org: string; name: string } {
  const parts = target.replace(/\/+$/, "").split("/");
  if (parts.length < 3 || parts.slice(-2).some((p) => p === "" || p === "." || p === "..")) {
    throw new UsageError(`expected <models>/<org>/<name>: received ${target}`);
  }
  const [org, name] = parts.slice(-2);
  return { store: parts.slice(0, -2).join("/") || "/", org, name };
}

/** Runs `import`; returns the exit code. */
export async function importFolder(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      revision: { type: "string" },
      message: { type: "string" },
      mode: { type: "string", default: "best" },
    },
  });
  if (positionals.length !== 2) throw new UsageError(IMPORT_USAGE);
  const [dir, target] = positionals;
  const mode = values.mode;
  if (mode !== "fast" && mode !== "best") {
    throw new UsageError(`--mode must be fast or best: received ${mode}`);
  }
  const { store: folder, org, name } = splitTarget(target);
  const files = await folderFiles(dir);
  if (files.length === 0) throw new UsageError(`${dir} holds no file to import`);
  const total = files.reduce((n, f) => n + f.size, 0);
  const store = await openRepoStore({ store: folder });
  const interrupt = listenForInterrupt();
  const bar = progressBar("import", total);
  let done = 0;
  const changes: FileChange[] = [];
  try {
    for (const f of files) {
      interrupt.signal.throwIfAborted();
      const file = await Deno.open(f.local);
      const body = file.readable.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, c) {
            interrupt.signal.throwIfAborted();
            bar.update(done += chunk.length);
            c.enqueue(chunk);
          },
        }),
      );
      changes.push({
        path: f.path,
        content: await store.receive(body, {
          maxBytes: Number.MAX_SAFE_INTEGER,
          mode: mode as Mode,
        }),
      });
    }
    interrupt.signal.throwIfAborted();
    const r = await store.publish(org, name, values.revision ?? null, {
      title: values.message ?? `Import ${files.length} files`,
      replace: true,
      files: changes,
    });
    bar.finish();
    const stored = r.commit.files.reduce((n, f) => n + (f.container?.size ?? f.size), 0);
    console.log(
      `${folder}: ${org}/${name}@${values.revision ?? "main"} ${
        r.created ? "commit" : "unchanged, still at"
      } ${r.commit.id} (${files.length} files, ${formatBytes(total)} stored as ${
        formatBytes(stored)
      })`,
    );
    return 0;
  } catch (e) {
    bar.stop();
    for (const c of changes) await discardStaged(c.content as StagedFile);
    if (e instanceof Interrupted) {
      console.error(`interrupted: nothing was imported into ${folder}; run the command again`);
      return INTERRUPTED_EXIT;
    }
    throw e;
  } finally {
    interrupt.dispose();
    await store.close();
  }
}
