/**
 * `verify <file.tsr>`: checks every chunk, tensor and the whole file, and every variant's chunks,
 * tensors and file; exits 1 naming each failure.
 * @module
 */
import { verifyContainer } from "../container/verify.ts";
import { openContainerFile } from "../io/container_file.ts";
import { createDecodePool } from "../threads/decode_pool.ts";
import { defaultWorkers } from "../io/unpack_file.ts";
import { formatBytes, progressBar } from "./progress.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const VERIFY_USAGE = "verify <file.tsr>";

/** Runs `verify`; returns the exit code. */
export async function verify(args: string[]): Promise<number> {
  if (args.length !== 1 || args[0].startsWith("--")) throw new UsageError(VERIFY_USAGE);
  const c = await openContainerFile(args[0]);
  try {
    // The original's tensors (those it holds), then each variant's file.
    const size = (t: { offsets: number[] }) => t.offsets[1] - t.offsets[0];
    const all = c.index.tensors.reduce((s, t) => s + size(t), 0);
    const total = c.index.tensors.reduce(
      (s, t) => s + (t.encodings.some((e) => e.kind === "lossless") ? size(t) : 0),
      0,
    ) + all * (c.index.variants?.length ?? 0);
    const bar = progressBar("verify", total);
    let done = 0;
    const workers = defaultWorkers(c.index.source.size);
    const pool = workers > 0 ? createDecodePool(workers, c.backends) : undefined;
    let report;
    try {
      report = await verifyContainer(c, { executor: pool, onBytes: (n) => bar.update(done += n) });
    } finally {
      pool?.close();
    }
    bar.finish();
    for (const p of report.problems) {
      const where = p.tensor === null
        ? "file"
        : `tensor "${p.tensor}"${p.chunk === null ? "" : ` chunk ${p.chunk}`}`;
      console.error(`FAIL ${where}: ${p.message}`);
    }
    const summary = `${report.tensors} tensors, ${report.chunks} chunks, ${
      formatBytes(report.bytes)
    } decoded`;
    if (report.problems.length > 0) {
      console.error(`${args[0]}: ${report.problems.length} problem(s); ${summary}`);
      return 1;
    }
    console.log(`${args[0]}: OK; ${summary}; sha256 ${c.index.source.sha256}`);
    return 0;
  } finally {
    c.source.close();
  }
}
