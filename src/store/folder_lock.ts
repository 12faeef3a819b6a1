/**
 * An exclusive lock on a models folder, held for as long as a store has it open, so that two
 * processes never write one folder (and a starting server may remove every temporary it finds:
 * no live process can own one). The lock is `flock` on `<dir>/.lock`, which the kernel drops when
 * the process dies, however it dies; the file also records the holder's pid for the message.
 * @module
 */
import { StoreError } from "./errors.ts";

/** A held lock. */
export interface FolderLock {
  /** Releases the lock; idempotent. */
  release(): void;
}

/** Name of the lock file in the folder. */
export const LOCK_FILE = ".lock";

/**
 * Takes the lock on `dir`, or throws `store_locked` naming the holder when another process has it.
 * `flock` has no non-blocking form in Deno, so a lock not granted within `waitMs` counts as held.
 *
 * @example
 * ```ts
 * const lock = await lockFolder("./models");
 * try { await work(); } finally { lock.release(); }
 * ```
 */
export async function lockFolder(dir: string, waitMs = 500): Promise<FolderLock> {
  const path = `${dir}/${LOCK_FILE}`;
  const file = await Deno.open(path, { read: true, write: true, create: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const granted = await Promise.race([
    file.lock(true).then(() => true, () => false),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), waitMs)),
  ]);
  clearTimeout(timer);
  if (!granted) {
    let holder = "";
    try {
      const pid = (await Deno.readTextFile(path)).trim();
      if (/^\d+$/.test(pid)) holder = ` (pid ${pid})`;
    } catch { /* unreadable: no pid to name */ }
    file.close();
    throw new StoreError(
      "store_locked",
      `${dir} is in use by another Tessera process${holder}; stop it or use another folder`,
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}
