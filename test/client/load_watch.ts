/**
 * A load that hangs made visible: a pacer that remembers the requests it holds back and those in
 * flight, and a watch that aborts the load with that state once it has made no progress (no body
 * bytes, no tensor, no pacer event) for a minute, so that a test fails with what was waiting
 * instead of sitting at 0% CPU until the runner is killed. No wait of a healthy load lasts that
 * long: the stall guard fails a silent server after 30 s.
 * @module
 */
import { type LinkPacer, linkPacer, type PacedTransfer } from "../../src/client/link_pacer.ts";

/** What a load under watch is given, and the watch's controls. */
export interface LoadWatch {
  /** The pacer to load with (`http.pacer`). */
  readonly pacer: LinkPacer;
  /** The signal to load with: aborted, with the state, when the load stops progressing. */
  readonly signal: AbortSignal;
  /** To call from the load's `onProgress`. */
  progress(): void;
  /** The pacer's state: requests waiting to be sent, and those in flight with their bytes. */
  describe(): string;
  /** Ends the watch. */
  stop(): void;
}

/** Options of {@link watchLoad}. */
export interface WatchOptions {
  /** Milliseconds without progress that abort the load; 60 s by default. */
  readonly quietMs?: number;
  /** The pacer watched; a fresh {@link linkPacer} by default. */
  readonly pacer?: LinkPacer;
}

/**
 * Watches a load: `quietMs` without progress aborts it with the pacer's state.
 *
 * @example
 * ```ts ignore
 * const watch = watchLoad();
 * try {
 *   for await (const t of loadModel(url, { http: { pacer: watch.pacer }, signal: watch.signal,
 *     onProgress: watch.progress })) use(t);
 * } finally {
 *   watch.stop();
 * }
 * ```
 */
export function watchLoad(options: WatchOptions = {}): LoadWatch {
  const quietMs = options.quietMs ?? 60_000, inner = options.pacer ?? linkPacer();
  const t0 = performance.now();
  const at = () => `${(performance.now() - t0).toFixed(0)} ms`;
  let last = performance.now(), ids = 0;
  const waiting = new Map<number, string>();
  const flights = new Map<number, { bytes: number; headers: boolean; received: number }>();
  const stop = new AbortController();
  const progress = () => void (last = performance.now());
  const describe = () =>
    [
      `pacer estimates ${JSON.stringify(inner.estimates())}`,
      `waiting to be sent: ${[...waiting.values()].join(", ") || "none"}`,
      `in flight: ${
        [...flights].map(([id, f]) =>
          `#${id} of ${f.bytes} B (${
            f.headers ? "answered" : "not answered"
          }, ${f.received} B read)`
        ).join(", ") || "none"
      }`,
    ].join("\n");
  const ask = (bytes: number) => {
    const id = ++ids;
    waiting.set(id, `#${id} of ${bytes} B since ${at()}`);
    progress();
    return id;
  };
  const sent = (id: number, bytes: number, p: PacedTransfer): PacedTransfer => {
    const f = { bytes, headers: false, received: 0 };
    flights.set(id, f);
    progress();
    return {
      headers: () => (f.headers = true, progress(), p.headers()),
      progress: (n) => (f.received += n, progress(), p.progress(n)),
      done: () => (flights.delete(id), progress(), p.done()),
    };
  };
  const pacer: LinkPacer = {
    estimates: () => inner.estimates(),
    async acquire(bytes, signal) {
      const id = ask(bytes);
      try {
        return sent(id, bytes, await inner.acquire(bytes, signal));
      } finally {
        waiting.delete(id);
      }
    },
    async acquireAll(sizes, signal) {
      const group = sizes.map(ask);
      try {
        return (await inner.acquireAll(sizes, signal)).map((p, k) => sent(group[k], sizes[k], p));
      } finally {
        for (const id of group) waiting.delete(id);
      }
    },
  };
  const timer = setInterval(() => {
    if (performance.now() - last < quietMs) return;
    clearInterval(timer);
    stop.abort(new Error(`the load made no progress for ${quietMs} ms\n${describe()}`));
  }, Math.min(1000, quietMs));
  return {
    pacer,
    signal: stop.signal,
    progress,
    describe,
    stop: () => clearInterval(timer),
  };
}
