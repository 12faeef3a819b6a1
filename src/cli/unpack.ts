/**
 * `unpack <in.tsr> <out.safetensors>`: rebuilds the original, byte-identical and SHA-256 checked.
 * @module
 */
import { openContainerFile } from "../io/container_file.ts";
import { unpackFile } from "../io/unpack_file.ts";
import { progressBar } from "./progress.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const UNPACK_USAGE = "unpack <in.tsr> <out.safetensors>";

/** Runs `unpack`; returns the exit code. */
export async function unpack(args: string[]): Promise<number> {
  if (args.length !== 2 || args.some((a) => a.startsWith("--"))) throw new UsageError(UNPACK_USAGE);
  const c = await openContainerFile(args[0]);
  try {
    const bar = progressBar("unpack", c.index.source.size);
    let done = 0;
    await unpackFile(c, args[1], { onBytes: (n) => bar.update(done += n) });
    bar.finish();
    console.log(
      `${args[1]}: ${c.index.source.size} bytes, sha256 ${c.index.source.sha256} (verified)`,
    );
    return 0;
  } finally {
    c.source.close();
  }
}
