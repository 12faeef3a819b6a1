/**
 * `pack <in.safetensors> <out.tsr> [--mode fast|best] [--align N] [--chunk-kib N] [--layer-regex R] [--workers N]
 * [--variant SPEC[,SPEC...] [--only REGEX] [--variant-only]]`
 * @module
 */
import { parseArgs } from "node:util";
import { packFile } from "../pack/write.ts";
import { deriveFile } from "../pack/derive.ts";
import { variantArgs } from "./derive.ts";
import { Interrupted, listenForInterrupt } from "./interrupt.ts";
import { makeParents } from "./paths.ts";
import { formatBytes, progressBar } from "./progress.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const PACK_USAGE =
  "pack <in.safetensors> <out.tsr> [--mode fast|best] [--align N] [--chunk-kib N] " +
  "[--layer-regex R] [--workers N] [--variant SPEC[,SPEC...] [--only REGEX] [--variant-only]]";

/** Runs `pack`; returns the exit code. */
export async function pack(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      mode: { type: "string", default: "best" },
      align: { type: "string" },
      "chunk-kib": { type: "string", default: "256" },
      "layer-regex": { type: "string" },
      workers: { type: "string" },
      variant: { type: "string" },
      only: { type: "string" },
      "variant-only": { type: "boolean" },
    },
  });
  if (positionals.length !== 2) throw new UsageError(PACK_USAGE);
  const [input, output] = positionals;
  const mode = values.mode;
  if (mode !== "fast" && mode !== "best") {
    throw new UsageError(`--mode must be fast or best: received ${mode}`);
  }
  // Unset: the writer's default for the mode (1 in best, 64 in fast).
  const alignment = values.align === undefined ? undefined : Number(values.align);
  const chunkBytes = Number(values["chunk-kib"]) * 1024;
  let layerPattern: RegExp | undefined;
  if (values["layer-regex"]) {
    try {
      layerPattern = new RegExp(values["layer-regex"]);
    } catch (e) {
      throw new UsageError(
        `--layer-regex is not a valid regular expression: ${(e as Error).message}`,
      );
    }
  }
  let workers: number | undefined;
  if (values.workers !== undefined) {
    workers = Number(values.workers);
    if (!(Number.isInteger(workers) && workers >= 0 && workers <= 64)) {
      throw new UsageError(`--workers must be an integer from 0 to 64: received ${values.workers}`);
    }
  }
  const variants = values.variant !== undefined || values.only !== undefined ||
      values["variant-only"] !== undefined
    ? variantArgs(values.variant, values.only, values["variant-only"])
    : null;
  const inputSize = (await Deno.stat(input)).size;
  await makeParents(output);
  const bar = progressBar("pack", inputSize);
  const started = performance.now();
  const interrupt = listenForInterrupt();
  // With variants, the lossless container is packed beside the output and the variants derived
  // from it: one more copy of its chunks, and the same code path as `derive`.
  const slash = output.lastIndexOf("/");
  const packed = variants
    ? `${output.slice(0, slash + 1)}.${output.slice(slash + 1)}.lossless.tmp`
    : output;
  let index;
  try {
    index = await packFile(input, packed, {
      mode,
      alignment,
      chunkBytes,
      layerPattern,
      workers,
      onProgress: (p) => {
        // Thrown from the progress callback, the interruption makes packFile remove its
        // temporary file: an interrupted pack leaves nothing behind.
        interrupt.signal.throwIfAborted();
        bar.update(p.bytesIn, `ratio ${(p.bytesIn / Math.max(1, p.bytesOut)).toFixed(3)}`);
      },
    });
    if (variants) {
      try {
        index = await deriveFile(packed, output, variants);
      } finally {
        await Deno.remove(packed).catch(() => {});
      }
    }
  } catch (e) {
    bar.stop();
    if (e instanceof Interrupted) {
      console.error(`interrupted: ${output} was not written (nothing is kept; run pack again)`);
      return 130;
    }
    throw e;
  } finally {
    interrupt.dispose();
  }
  const outSize = (await Deno.stat(output)).size;
  bar.finish(`ratio ${(inputSize / outSize).toFixed(3)}`);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${output}: ${index.tensors.length} tensors, ${formatBytes(inputSize)} -> ${
      formatBytes(outSize)
    } ` +
      `(ratio ${(inputSize / outSize).toFixed(3)}, ${mode}${
        index.variants ? `; variants ${index.variants.map((v) => v.name).join(", ")}` : ""
      }) in ${seconds.toFixed(2)} s`,
  );
  return 0;
}
