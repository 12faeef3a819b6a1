/**
 * Paths given on the command line: relative to the folder the user ran the command in (also under
 * `deno task`, which runs in the project folder but records the caller's in `INIT_CWD`), and
 * output files whose parent folders are created.
 * @module
 */

/** The project folder, where `deno task` runs its tasks. */
const PROJECT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * Moves to the caller's folder when run by `deno task`, so relative paths mean what the user
 * typed. `deno task` runs in the project folder and records the caller's in `INIT_CWD`; the
 * variable is inherited by every process below, so it only counts while the current folder is
 * still the project's. Returns the folder now current.
 */
export function useCallerFolder(env: Record<string, string | undefined> = Deno.env.toObject()) {
  const caller = env.INIT_CWD;
  if (caller && Deno.cwd() === PROJECT) {
    try {
      Deno.chdir(caller);
    } catch {
      // the caller's folder is gone; relative paths keep their task-folder meaning
    }
  }
  return Deno.cwd();
}

/**
 * Creates the parent folders of output file `path`.
 *
 * @example
 * ```ts
 * await makeParents("out/models/m.tsr"); // creates out/models
 * ```
 */
export async function makeParents(path: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
}
