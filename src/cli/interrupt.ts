/**
 * Ctrl-C for long commands: while a command runs, SIGINT (and SIGTERM) abort a signal instead of
 * killing the process, so the command can say what it kept and how to resume, then exit 130.
 * @module
 */

/** An interruption scope. */
export interface Interrupt {
  /** Aborted on the first SIGINT or SIGTERM; its reason is an {@link Interrupted}. */
  readonly signal: AbortSignal;
  /** Stops listening; the next Ctrl-C kills the process as usual. */
  dispose(): void;
}

/** The exit code of a command interrupted by Ctrl-C (128 + SIGINT). */
export const INTERRUPTED_EXIT = 130;

/** What an interrupted command throws. */
export class Interrupted extends Error {
  /** Builds the error for `signal`. */
  constructor(signal: string) {
    super(`interrupted by ${signal}`);
    this.name = "Interrupted";
  }
}

/**
 * Listens for SIGINT and SIGTERM until disposed.
 *
 * @example
 * ```ts
 * const stop = listenForInterrupt();
 * try { await work(stop.signal); } finally { stop.dispose(); }
 * ```
 */
export function listenForInterrupt(): Interrupt {
  const controller = new AbortController();
  const handlers: [Deno.Signal, () => void][] = [];
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const handler = () => controller.abort(new Interrupted(sig));
    try {
      Deno.addSignalListener(sig, handler);
      handlers.push([sig, handler]);
    } catch {
      // signals are not available here (Windows has no SIGTERM listener)
    }
  }
  return {
    signal: controller.signal,
    dispose() {
      for (const [sig, h] of handlers.splice(0)) Deno.removeSignalListener(sig, h);
    },
  };
}
