/**
 * A fixed set of module workers, each answering one reply per request, matched by id. Requests go
 * to the least loaded worker. The server's decode pool and pack's encode pool are built on it.
 * @module
 */

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
   * with the worker's reply; rejects if the pool is closed or the worker fails.
   */
  request(body: Omit<Req, "id">, transfer: Transferable[]): Promise<Rep>;
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
  const threads = Array.from({ length: size }, (_, w) => {
    const worker = new Worker(url, { type: "module" });
    worker.onmessage = (e: MessageEvent<Rep>) => {
      const p = pending.get(e.data.id);
      if (!p) return;
      pending.delete(e.data.id);
      load[w]--;
      p.resolve(e.data);
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
    return worker;
  });
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
        threads[w].postMessage({ ...body, id }, transfer);
      });
    },
    close() {
      closed = true;
      for (const t of threads) t.terminate();
      for (const p of pending.values()) p.reject(new Error(`${name} pool closed`));
      pending.clear();
    },
  };
}
