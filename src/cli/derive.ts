/**
 * `derive <in.tsr> <out.tsr> --variant SPEC[,SPEC...] [--only REGEX] [--variant-only]
 * [--chunk-kib N] [--mode fast|best]`: adds lossy variants to a container.
 * @module
 */
import { parseArgs } from "node:util";
import { parseSpecList, type VariantSpec, VariantSpecError } from "../../codec/variants/spec.ts";
import { deriveFile } from "../pack/derive.ts";
import { formatBytes } from "./progress.ts";
import { UsageError } from "./usage_error.ts";

/** Usage line of the command. */
export const DERIVE_USAGE = "derive <in.tsr> <out.tsr> --variant SPEC[,SPEC...] [--only REGEX] " +
  "[--variant-only] [--chunk-kib N] [--mode fast|best]";

/** The variant options shared by `derive` and `pack`, checked. */
export interface VariantArgs {
  readonly specs: VariantSpec[];
  readonly only?: RegExp;
  readonly variantOnly: boolean;
}

/** Parses `--variant`, `--only` and `--variant-only` values; throws UsageError when wrong. */
export function variantArgs(
  variant: string | undefined,
  only: string | undefined,
  variantOnly: boolean | undefined,
): VariantArgs {
  if (!variant) throw new UsageError("--variant is required, e.g. --variant int8,ternary:3");
  let specs: VariantSpec[];
  try {
    specs = parseSpecList(variant);
  } catch (e) {
    if (e instanceof VariantSpecError) throw new UsageError(e.message);
    throw e;
  }
  let pattern: RegExp | undefined;
  if (only !== undefined) {
    try {
      pattern = new RegExp(only);
    } catch (e) {
      throw new UsageError(`--only is not a valid regular expression: ${(e as Error).message}`);
    }
  }
  return { specs, only: pattern, variantOnly: variantOnly === true };
}

/** Runs `derive`; returns the exit code. */
export async function derive(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      variant: { type: "string" },
      only: { type: "string" },
      "variant-only": { type: "boolean" },
      "chunk-kib": { type: "string" },
      mode: { type: "string" },
    },
  });
  if (positionals.length !== 2) throw new UsageError(DERIVE_USAGE);
  const [input, output] = positionals;
  const v = variantArgs(values.variant, values.only, values["variant-only"]);
  const mode = values.mode;
  if (mode !== undefined && mode !== "fast" && mode !== "best") {
    throw new UsageError(`--mode must be fast or best: received ${mode}`);
  }
  let chunkBytes: number | undefined;
  if (values["chunk-kib"] !== undefined) {
    chunkBytes = Number(values["chunk-kib"]) * 1024;
    if (!(Number.isInteger(chunkBytes) && chunkBytes >= 1024 && chunkBytes <= 1 << 26)) {
      throw new UsageError(`--chunk-kib must be an integer from 1 to 65536`);
    }
  }
  const started = performance.now();
  const index = await deriveFile(input, output, { ...v, chunkBytes, mode });
  const inSize = (await Deno.stat(input)).size, outSize = (await Deno.stat(output)).size;
  console.log(
    `${output}: ${index.variants?.map((x) => x.name).join(", ")} from ${input}, ` +
      `${formatBytes(inSize)} -> ${formatBytes(outSize)}${
        v.variantOnly ? " (variant-only)" : ""
      } ` +
      `in ${((performance.now() - started) / 1000).toFixed(2)} s`,
  );
  return 0;
}
