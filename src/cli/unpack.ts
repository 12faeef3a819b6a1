/**
 * `unpack <in.tsr> <out.safetensors>`: rebuilds the original, byte-identical and SHA-256 checked.
 * @module
 */
import { openContainerFile } from "../io/container_file.ts";
import { defaultWorkers, unpackFile } from "../io/unpack_file.ts";
import { startDecodeWorkers } from "../threads/decode_pool.ts";
import { nativeUnpackAvailable } from "../threads/native_unpack.ts";
import { INTERRUPTED_EXIT, listenForInterrupt } from "./interrupt.ts";
import { progressBar } from "./progress.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const UNPACK_USAGE = "unpack <in.tsr> <out.safetensors>";

/** Runs `unpack`; returns the exit code. */
export async function unpack(args: string[]): Promise<number> {
  if (args.length !== 2 || args.some((a) => a.startsWith("--"))) throw new UsageError(UNPACK_USAGE);
  // Without the native unpack (no native library, or not Linux), workers start while this
  // thread opens the container (see startDecodeWorkers); with it, no worker is needed.
  const n = defaultWorkers((await Deno.stat(args[0])).size);
  const workers = n > 0 && !nativeUnpackAvailable() ? startDecodeWorkers(n) : undefined;
  let c;
  try {
    c = await openContainerFile(args[0]);
  } catch (e) {
    workers?.close();
    throw e;
  }
  // Ctrl-C or SIGTERM aborts the unpack, which removes its temporary file: nothing is left.
  const interrupt = listenForInterrupt();
  try {
    const bar = progressBar("unpack", c.index.source.size);
    let done = 0;
    try {
      await unpackFile(c, args[1], {
        workers,
        signal: interrupt.signal,
        onBytes: (n) => bar.update(done += n),
      });
    } catch (e) {
      bar.stop();
      if (!interrupt.signal.aborted) throw e;
      console.error(`interrupted: ${args[1]} was not written (nothing is kept; run unpack again)`);
      return INTERRUPTED_EXIT;
    }
    bar.finish();
    console.log(
      `${args[1]}: ${c.index.source.size} bytes, sha256 ${c.index.source.sha256} (verified)`,
    );
    return 0;
  } finally {
    interrupt.dispose();
    c.source.close();
  }
}
