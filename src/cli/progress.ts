/**
 * A one-line progress bar on stderr, drawn only on a terminal and at most ten times a second.
 * Sizes and rates use the same binary units (KiB, MiB, GiB; MiB/s). The rate counts only the
 * bytes of this session: the first value reported is the starting point, so a resumed download
 * that starts at 90% does not show the bytes it already had as bytes just received.
 * @module
 */

/** A progress display. */
export interface Progress {
  /** Redraws with `done` of `total` bytes; `extra` is appended (for example a ratio). */
  update(done: number, extra?: string): void;
  /** Draws the final state and ends the line. */
  finish(extra?: string): void;
  /** Ends the line where it is (an interruption), without drawing completion. */
  stop(): void;
}

const encoder = new TextEncoder();
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * Formats a byte count with a binary unit.
 *
 * @example
 * ```ts
 * formatBytes(1536); // "1.5 KiB"
 * ```
 */
export function formatBytes(n: number): string {
  let u = 0;
  while (n >= 1024 && u < UNITS.length - 1) n /= 1024, u++;
  return `${n.toFixed(u === 0 ? 0 : 1)} ${UNITS[u]}`;
}

/**
 * Formats a rate in bytes per second with the same units as {@link formatBytes}.
 *
 * @example
 * ```ts
 * formatRate(3 * 1024 * 1024); // "3.0 MiB/s"
 * ```
 */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** The rate of a session: bytes since the first report, over the time since it. */
export function sessionRate(
  first: { done: number; at: number },
  now: { done: number; at: number },
): number {
  const seconds = (now.at - first.at) / 1000;
  return seconds > 0 ? Math.max(0, now.done - first.done) / seconds : 0;
}

/** Options of {@link progressBar}. */
export interface ProgressOptions {
  /** Draw even when stderr is not a terminal (tests). */
  readonly force?: boolean;
  /** Where lines go; stderr by default. */
  readonly write?: (text: string) => void;
  /** The clock, ms; `performance.now` by default. */
  readonly now?: () => number;
}

/**
 * A progress bar for `total` bytes labelled `label`; silent when stderr is not a terminal.
 *
 * @example
 * ```ts
 * const bar = progressBar("pack", size);
 * bar.update(done);
 * bar.finish();
 * ```
 */
export function progressBar(label: string, total: number, options: ProgressOptions = {}): Progress {
  const tty = options.force ?? Deno.stderr.isTerminal();
  const now = options.now ?? (() => performance.now());
  const write = options.write ?? ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  let first: { done: number; at: number } | null = null;
  let last = -Infinity, done = 0, drawn = false;
  const draw = (extra: string) => {
    const at = now();
    first ??= { done, at };
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * 24);
    const rate = sessionRate(first, { done, at });
    write(
      `\r${label} [${"#".repeat(filled)}${"-".repeat(24 - filled)}] ` +
        `${(fraction * 100).toFixed(1)}% ${formatBytes(done)}/${formatBytes(total)} ` +
        `${formatRate(rate)}${extra ? " " + extra : ""}\x1b[K`,
    );
    drawn = true;
  };
  return {
    update(n, extra = "") {
      done = n;
      const at = now();
      first ??= { done: n, at };
      if (!tty || at - last < 100) return;
      last = at;
      draw(extra);
    },
    finish(extra = "") {
      if (!tty) return;
      done = total;
      draw(extra);
      write("\n");
    },
    stop() {
      if (tty && drawn) write("\n");
    },
  };
}
