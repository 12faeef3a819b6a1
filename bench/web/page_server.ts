/**
 * The hub the web benches load pages from: one in-process server on loopback over a models folder,
 * with one decode worker and no log, as `bench:web` and `trace_page.ts` both measure it.
 * @module
 */
import { defaultConfig } from "../../src/server/config.ts";
import { type RunningServer, startServer } from "../../src/server/server.ts";

/**
 * Serves `modelsDir` on 127.0.0.1 at `port` (0: any free port).
 *
 * @example
 * ```ts ignore
 * const server = await startPageServer(dir, 0);
 * await fetch(`${server.url}/bench/synthetic`);
 * await server.close();
 * ```
 */
export function startPageServer(modelsDir: string, port: number): Promise<RunningServer> {
  return startServer(
    defaultConfig({ modelsDir, port, host: "127.0.0.1", workers: 1, quiet: true }),
    () => {},
  );
}
