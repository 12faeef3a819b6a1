/**
 * A response body read in order by several reads: each read claims a later byte range of the body
 * at once (synchronously, so reads are served in the order they were made) and is filled as its
 * bytes arrive; bytes between two reads are skipped. A pump reads a bounded amount ahead of the
 * reads, so that the link stays busy while the reader computes (parsing an index, say) instead of
 * stalling on a full receive window. Browser-safe.
 * @module
 */
import { ClientError } from "./errors.ts";

/** The rest of a body, served to reads in order. */
export interface SequentialBody {
  /** Offset (in the resource) of the first byte no read has claimed yet. */
  readonly claimed: number;
  /** Offset just past the last byte it can serve. */
  readonly end: number;
  /** Offset just past the last byte read from the body so far. */
  readonly received: number;
  /** Serves nothing past `end` from now on (bytes past it are never read from the body). */
  limit(end: number): void;
  /** Whether it can still serve reads: not failed, cancelled or fully claimed. */
  readonly open: boolean;
  /**
   * Claims `[offset, offset + into.length)` (at or after {@link claimed}, within {@link end}) and
   * resolves once `into` holds those bytes; rejects when the body fails or is cancelled first.
   * `onBytes` is told of the body bytes the read consumes, the skipped ones before it included.
   */
  read(offset: number, into: Uint8Array, onBytes?: (n: number) => void): Promise<void>;
  /** Stops reading: pending and later reads reject, the body is cancelled. */
  cancel(): void;
}

/** Options of {@link sequentialBody}. */
export interface SequentialBodyOptions {
  /** Bytes read ahead of what reads have taken, at most; 4 MiB by default. */
  readonly readAhead?: number;
  /** Names the body in errors (`GET url`). */
  readonly what?: string;
}

/**
 * Serves reads of bytes `[start, end)` of a resource from `body`, which holds exactly those bytes
 * (or more: nothing past `end` is read).
 *
 * @example
 * ```ts
 * import { sequentialBody } from "./sequential_body.ts";
 * const s = sequentialBody(new Response(new Uint8Array([1, 2, 3, 4, 5])).body!, 10, 15);
 * const a = new Uint8Array(2), b = new Uint8Array(1);
 * await Promise.all([s.read(10, a), s.read(14, b)]); // byte 13 is skipped
 * console.assert(a[1] === 2 && b[0] === 5);
 * ```
 */
export function sequentialBody(
  body: ReadableStream<Uint8Array>,
  start: number,
  end: number,
  options: SequentialBodyOptions = {},
): SequentialBody {
  const readAhead = options.readAhead ?? 4 << 20;
  const what = options.what ?? "body";
  const reader = body.getReader();
  const queue: Uint8Array[] = [];
  let queued = 0; // bytes in `queue`
  let position = start; // offset of queue[0][0]
  let received = start; // offset just past the last byte read from the body
  let claimed = start;
  let failure: unknown = undefined;
  let pumping = false;
  let wake: (() => void) | undefined; // a fill waiting for bytes
  let chain: Promise<void> = Promise.resolve();

  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (e: unknown) => {
    if (failure === undefined) failure = e;
    queue.length = 0, queued = 0;
    reader.cancel().catch(() => {});
    notify();
  };
  const pump = async () => {
    if (pumping || failure !== undefined) return;
    pumping = true;
    try {
      while (received < end && queued < readAhead && failure === undefined) {
        const r = await reader.read();
        if (failure !== undefined) return;
        // Limited while the read was pending (which cancels the body): what is queued stays.
        if (received >= end) break;
        if (r.done) {
          fail(
            new ClientError(
              "bad_response",
              `${what}: body ended at byte ${received}, expected bytes up to ${end}`,
            ),
          );
          return;
        }
        let piece = r.value;
        if (piece.length > end - received) piece = piece.subarray(0, end - received);
        queue.push(piece);
        queued += piece.length, received += piece.length;
        notify();
      }
      // Everything needed has arrived: the rest of the body (if any) is not wanted.
      if (received >= end) reader.cancel().catch(() => {});
    } catch (e) {
      fail(e);
    } finally {
      pumping = false;
    }
  };
  /** Waits until some byte past `position` is queued (or the body failed). */
  const more = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
      pump();
    });
  const fill = async (offset: number, into: Uint8Array, onBytes?: (n: number) => void) => {
    let filled = 0;
    while (filled < into.length) {
      if (failure !== undefined) throw failure;
      if (queued === 0) {
        await more();
        continue;
      }
      const head = queue[0];
      const skip = Math.min(Math.max(0, offset - position), head.length);
      const take = skip < head.length ? Math.min(head.length - skip, into.length - filled) : 0;
      if (take > 0) into.set(head.subarray(skip, skip + take), filled);
      filled += take;
      const used = skip + take;
      if (used === head.length) queue.shift();
      else queue[0] = head.subarray(used);
      queued -= used, position += used;
      onBytes?.(used);
      pump(); // room freed: read on
    }
  };

  pump();
  return {
    get claimed() {
      return claimed;
    },
    get end() {
      return end;
    },
    get received() {
      return received;
    },
    limit(to) {
      end = Math.max(claimed, Math.min(end, to));
      if (received > end) {
        // Already read past it: drop what no read may take.
        let over = received - end;
        while (over > 0 && queue.length > 0) {
          const last = queue[queue.length - 1];
          const cut = Math.min(over, last.length);
          if (cut === last.length) queue.pop();
          else queue[queue.length - 1] = last.subarray(0, last.length - cut);
          queued -= cut, over -= cut;
        }
        received = end;
      }
      if (received >= end) reader.cancel().catch(() => {});
    },
    get open() {
      return failure === undefined && claimed < end;
    },
    read(offset, into, onBytes) {
      if (offset < claimed || offset + into.length > end) {
        return Promise.reject(
          new RangeError(
            `${what}: read of ${into.length} bytes at ${offset} is outside ${claimed}-${end}`,
          ),
        );
      }
      claimed = offset + into.length;
      const done = chain.then(() => fill(offset, into, onBytes));
      chain = done.catch(() => {});
      return done;
    },
    cancel() {
      fail(new ClientError("bad_response", `${what}: read cancelled`));
    },
  };
}
