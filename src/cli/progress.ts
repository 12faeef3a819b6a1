/**
 * A one-line progress bar on stderr, drawn only on a terminal and at most ten times a second.
 * @module
 */

/** A progress display. */
export interface Progress {
  /** Redraws with `done` of `total` bytes; `extra` is appended (for example a ratio). */
  update(done: number, extra?: string): void;
  /** Draws the final state and ends the line. */
  finish(extra?: string): void;
}

const encoder = new TextEncoder();

/** Formats a byte count with a binary unit. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) n /= 1024, u++;
  return `${n.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

/** A progress bar for `total` bytes labelled `label`; silent when stderr is not a terminal. */
export function progressBar(label: string, total: number): Progress {
  const tty = Deno.stderr.isTerminal();
  const start = performance.now();
  let last = 0, done = 0;
  const draw = (extra: string) => {
    const seconds = (performance.now() - start) / 1000;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * 24);
    const rate = seconds > 0 ? done / 1e6 / seconds : 0;
    const line =
      `\r${label} [${"#".repeat(filled)}${"-".repeat(24 - filled)}] ${
        (fraction * 100).toFixed(1)
      }% ` +
      `${formatBytes(done)}/${formatBytes(total)} ${rate.toFixed(1)} MB/s${
        extra ? " " + extra : ""
      }\x1b[K`;
    Deno.stderr.writeSync(encoder.encode(line));
  };
  return {
    update(n, extra = "") {
      done = n;
      if (!tty) return;
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      draw(extra);
    },
    finish(extra = "") {
      if (!tty) return;
      done = total;
      draw(extra);
      Deno.stderr.writeSync(encoder.encode("\n"));
    },
  };
}
