/**
 * Operating-system errors as one line for a person: a busy port, a full disk, a file-size limit,
 * a missing folder, a permission or a read-only file system. The CLI and the server print these
 * and exit 1 instead of a stack trace.
 * @module
 */
import { StoreError } from "../store/errors.ts";

/** The OS error number in a Deno error message (`(os error 28)`), or null. */
function osErrno(e: Error): number | null {
  const m = /\(os error (\d+)\)/.exec(e.message);
  if (m) return Number(m[1]);
  const code = (e as { code?: string }).code;
  const codes: Record<string, number> = { EFBIG: 27, ENOSPC: 28, EROFS: 30, EACCES: 13 };
  return code && code in codes ? codes[code] : null;
}

/**
 * One line describing `e` if it is an OS error a person can act on, else null.
 *
 * @example
 * ```ts
 * describeOsError(new Deno.errors.AddrInUse("Address in use (os error 98)"));
 * // "address already in use (os error 98): another process is listening there; …"
 * ```
 */
export function describeOsError(e: unknown): string | null {
  if (e instanceof StoreError && (e.kind === "store_locked" || e.kind === "no_space")) {
    return e.message;
  }
  if (e instanceof StoreError && e.kind === "path_conflict") return e.message;
  if (!(e instanceof Error)) return null;
  const errno = osErrno(e);
  // Outputs are written to a temporary sibling first; name the file the user asked for.
  const first = e.message.split("\n")[0].replace(/\/\.([^/]+)\.[0-9a-f]{8}\.tmp\b/g, "/$1");
  if (e instanceof Deno.errors.AddrInUse) {
    return `${first}: another process is listening on that address; stop it or choose ` +
      "another --port";
  }
  if (e instanceof Deno.errors.AddrNotAvailable) {
    return `${first}: this machine has no such address; check --host`;
  }
  if (errno === 28) return `no space left on the device: ${first}`;
  if (errno === 27) return `a file-size limit was reached (ulimit -f): ${first}`;
  if (errno === 30) return `the file system is read-only: ${first}`;
  if (e instanceof Deno.errors.PermissionDenied || errno === 13) {
    return `permission denied: ${first}`;
  }
  if (e instanceof Deno.errors.NotFound) return `not found: ${first}`;
  if (e instanceof Deno.errors.NotADirectory) return `not a folder: ${first}`;
  if (e instanceof Deno.errors.IsADirectory) return `is a folder: ${first}`;
  if (e instanceof Deno.errors.AlreadyExists) return `already exists: ${first}`;
  return null;
}

/**
 * Turns the signal that a file-size limit sends (SIGXFSZ, which would kill the process without a
 * word) into the write error it also causes, so the limit is reported as a line.
 */
export function reportFileSizeLimits(): void {
  try {
    Deno.addSignalListener("SIGXFSZ", () => {});
  } catch {
    // no such signal on this platform
  }
}
