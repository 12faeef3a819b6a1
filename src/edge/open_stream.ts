/**
 * The body of an edge's opening request for a blob (`Range: bytes=0-`), read from byte 0 on: its
 * first bytes are held while the open reads the head and the original header from them, then every
 * byte (those held first) is handed to one sink, which cuts it into verified segments. Holding is
 * bounded ({@link OPEN_HOLD_BYTES}): past that the body is not read (TCP pushes back on the
 * origin) until a sink takes over. Stopping it (the sink throws {@link STOP_STREAM}, or
 * {@link OpenStream.cancel}) closes the connection.
 * @module
 */
import type { OriginClient } from "./origin_client.ts";

/** Most bytes held before a sink takes them: the open's index arrives within them. */
export const OPEN_HOLD_BYTES = 16 << 20;

/** What a sink throws to end the body early, on purpose (not a failure). */
export const STOP_STREAM: unique symbol = Symbol("stop stream");

/** The body of an opening request, from byte 0. */
export interface OpenStream {
  /** Bytes received so far. */
  readonly received: number;
  /**
   * The first `n` bytes (fewer when the body is shorter), once received, as a copy; only before
   * {@link drain}, and `n` at most {@link OPEN_HOLD_BYTES}.
   */
  prefix(n: number): Promise<Uint8Array>;
  /**
   * Hands every byte from 0 on to `sink`, in order (those held first); resolves when the body
   * ends, or `sink` throws {@link STOP_STREAM}; rejects when it fails.
   */
  drain(sink: (piece: Uint8Array) => void | Promise<void>): Promise<void>;
  /** Stops reading and closes the body. */
  cancel(): void;
}

/**
 * Reads `res` (an answer from byte 0) through `origin` (stall limits, counting); `abort` is the
 * controller whose signal the request was sent with, so a cancel cuts it at once.
 *
 * @example
 * ```ts ignore
 * const abort = new AbortController();
 * const res = await origin.request(path, { headers: { Range: "bytes=0-" }, signal: abort.signal });
 * const s = openStream(origin, res, abort);
 * const head = await s.prefix(64);
 * await s.drain((piece) => segments.add(piece));
 * ```
 */
export function openStream(
  origin: OriginClient,
  res: Response,
  abort: AbortController,
): OpenStream {
  const held: Uint8Array[] = [];
  let heldBytes = 0, received = 0, ended = false, failure: unknown = undefined;
  let sink: ((piece: Uint8Array) => void | Promise<void>) | null = null;
  let wake: (() => void)[] = [];
  const notify = () => {
    const w = wake;
    wake = [];
    for (const f of w) f();
  };
  const waitChange = () => new Promise<void>((r) => wake.push(r));
  const pumped = origin.pipe(res, async (piece) => {
    received += piece.length;
    if (sink) return await sink(piece);
    held.push(piece);
    heldBytes += piece.length;
    notify();
    while (!sink && heldBytes >= OPEN_HOLD_BYTES && !abort.signal.aborted) await waitChange();
    if (abort.signal.aborted) throw STOP_STREAM;
  }, abort.signal).then(
    () => {
      ended = true;
      notify();
    },
    (e) => {
      ended = true;
      if (e !== STOP_STREAM && !abort.signal.aborted) failure = e;
      notify();
    },
  );
  return {
    get received() {
      return received;
    },
    async prefix(n) {
      while (heldBytes < n && !ended && sink === null) await waitChange();
      if (failure !== undefined && heldBytes < n) throw failure;
      const out = new Uint8Array(Math.min(n, heldBytes));
      let at = 0;
      for (const p of held) {
        if (at >= out.length) break;
        const k = Math.min(p.length, out.length - at);
        out.set(p.subarray(0, k), at);
        at += k;
      }
      return out;
    },
    async drain(to) {
      while (held.length > 0) {
        const p = held.shift()!;
        heldBytes -= p.length;
        try {
          await to(p);
        } catch (e) {
          abort.abort(STOP_STREAM);
          notify();
          if (e === STOP_STREAM) return;
          throw e;
        }
      }
      sink = to;
      notify();
      await pumped;
      if (failure !== undefined) throw failure;
    },
    cancel() {
      abort.abort(STOP_STREAM);
      notify();
    },
  };
}
