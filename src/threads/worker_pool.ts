/**
 * The one worker protocol: a fixed set of module workers, each answering one reply per request,
 * matched by id, with errors in one format ({@link WorkerError}). Requests go to the least loaded
 * worker. The decode pool and pack's encode pool are built on it; {@link serveRequests} is the
 * worker side.
 * @module
 */
import { fromWorkerError, toWorkerError, type WorkerError } from "./worker_error.ts";

/** What every request and reply carries: the id that matches them. */
export interface Tagged {
  /** Matches a reply to its request. */
  readonly id: number;
}

/** The pool. */
export interface WorkerPool<Req extends Tagged, Rep extends Tagged> {
  /** Worker count. */
  readonly size: number;
  /** Whether {@link WorkerPool.close} was called. */
  readonly closed: boolean;
  /**
   * Posts `body` with a fresh id to the least loaded worker, transferring `transfer`. Resolves
   * with the worker's reply; rejects with the error the worker reported, or if the pool is closed
   * or the worker fails.
   */
  request(body: Omit<Req, "id">, transfer: Transferable[]): Promise<Rep>;
  /** Starts every worker now instead of on its first request. */
  warm(): void;
  /** Stops the workers; pending requests reject. */
  close(): void;
}

/**
 * Starts `size` workers running the module at `url`; `name` ("decode", "encode") names them in
 * errors.
 *
 * @example
 * ```ts ignore
 * const pool = createWorkerPool<EncodeRequest, EncodeReply>(url, 4, "encode");
 * const reply = await pool.request({ raw, layout, mode }, [raw.buffer]);
 * pool.close();
 * ```
 */
export function createWorkerPool<Req extends Tagged, Rep extends Tagged>(
  url: string,
  size: number,
  name: string,
): WorkerPool<Req, Rep> {
  const pending = new Map<
    number,
    { resolve: (r: Rep) => void; reject: (e: unknown) => void; worker: number }
  >();
  const load = new Array<number>(size).fill(0);
  let nextId = 0, closed = false;
  // Workers start on their first request: a process that never needs one (a small file) does not
  // pay for starting an isolate and loading the worker's modules.
  const threads: (Worker | undefined)[] = new Array(size).fill(undefined);
  const start = (w: number): Worker => {
    const worker = new Worker(url, { type: "module" });
    worker.onmessage = (e: MessageEvent<Rep | Failed>) => {
      const p = pending.get(e.data.id);
      if (!p) return;
      pending.delete(e.data.id);
      load[w]--;
      if ("error" in e.data) p.reject(fromWorkerError(e.data.error));
      else p.resolve(e.data);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      for (const [id, p] of pending) {
        if (p.worker !== w) continue;
        pending.delete(id);
        load[w]--;
        p.reject(new Error(`${name} worker ${w} failed: ${e.message}`));
      }
    };
    return (threads[w] = worker);
  };
  return {
    size,
    get closed() {
      return closed;
    },
    request(body, transfer) {
      if (closed) return Promise.reject(new Error(`${name} pool is closed`));
      let w = 0;
      for (let i = 1; i < size; i++) if (load[i] < load[w]) w = i;
      const id = nextId++;
      load[w]++;
      return new Promise<Rep>((resolve, reject) => {
        pending.set(id, { resolve, reject, worker: w });
        (threads[w] ?? start(w)).postMessage({ ...body, id }, transfer);
      });
    },
    warm() {
      for (let w = 0; w < size; w++) if (!closed && !threads[w]) start(w);
    },
    close() {
      closed = true;
      for (const t of threads) t?.terminate();
      for (const p of pending.values()) p.reject(new Error(`${name} pool closed`));
      pending.clear();
    },
  };
}

/** A reply reporting that a request failed. */
interface Failed extends Tagged {
  /** The error, in the one format. */
  readonly error: WorkerError;
}

/**
 * The worker side of the protocol: answers each request with `handle`'s reply (its buffers in
 * `transfer`), or with the error it threw. Call it from a worker module's top level.
 *
 * @example
 * ```ts ignore
 * serveRequests<Req, Rep>((req) => ({ reply: { id: req.id, out }, transfer: [out.buffer] }));
 * ```
 */
export function serveRequests<Req extends Tagged, Rep extends Tagged>(
  handle: (
    req: Req,
  ) => { reply: Rep; transfer: Transferable[] } | Promise<{ reply: Rep; transfer: Transferable[] }>,
): void {
  // deno-lint-ignore no-explicit-any
  const scope = globalThis as any;
  scope.onmessage = async (e: MessageEvent<Req>) => {
    try {
      const { reply, transfer } = await handle(e.data);
      scope.postMessage(reply, transfer);
    } catch (err) {
      const failed: Failed = { id: e.data.id, error: toWorkerError(err) };
      scope.postMessage(failed);
    }
  };
}

/** Whether this code runs in a worker thread. */
export function inWorker(): boolean {
  // deno-lint-ignore no-explicit-any
  const scope = globalThis as any;
  return typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope;
}
