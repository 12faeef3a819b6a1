/**
 * `extract <file.tsr> <tensor> [--rows a:b] [--cols c:d] [-o out.bin]`: raw bytes of a tensor or
 * tile, row-major, decoding only the chunks that hold it.
 * @module
 */
import { geometryOf } from "../container/index_schema.ts";
import { streamRegion, tensorOf } from "../container/read.ts";
import { openContainerFile } from "../io/container_file.ts";
import { parseSlice } from "../container/slice.ts";
import { createAtomicFile } from "../io/atomic_file.ts";
import { parseOptions } from "./args.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const EXTRACT_USAGE = "extract <file.tsr> <tensor> [--rows a:b] [--cols c:d] [-o out.bin]";

/** Runs `extract`; returns the exit code. */
export async function extract(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    rows: {},
    cols: {},
    output: { short: "o" },
  });
  if (positionals.length !== 2) throw new UsageError(EXTRACT_USAGE);
  if (!values.output && Deno.stdout.isTerminal()) {
    throw new UsageError("refusing to write binary to a terminal: pass -o FILE or redirect stdout");
  }
  const c = await openContainerFile(positionals[0]);
  try {
    const t = tensorOf(c, positionals[1]);
    const g = geometryOf(t);
    const [r0, r1] = parseSlice(values.rows ?? ":", g.rows, "--rows");
    const [c0, c1] = parseSlice(values.cols ?? ":", g.cols, "--cols");
    const parts = streamRegion(c, t, { r0, r1, c0, c1 });
    if (values.output) {
      const out = await createAtomicFile(values.output);
      try {
        let pos = 0;
        for await (const part of parts) {
          await out.writeAt(pos, part);
          pos += part.length;
        }
        await out.commit();
      } catch (e) {
        await out.abort();
        throw e;
      }
    } else {
      for await (const part of parts) {
        let written = 0;
        while (written < part.length) written += await Deno.stdout.write(part.subarray(written));
      }
    }
    console.error(
      `${t.name} [${r0}:${r1}, ${c0}:${c1}] ${t.dtype}: ${(r1 - r0) * (c1 - c0) * g.width} bytes`,
    );
    return 0;
  } finally {
    c.source.close();
  }
}
