/**
 * The `tessera` command line: one subcommand per file in this folder.
 * @module
 */
import { CodecError } from "../../codec/errors.ts";
import { ContainerError } from "../container/errors.ts";
import { SafetensorsError } from "../safetensors/errors.ts";
import { demo } from "./demo.ts";
import { derive, DERIVE_USAGE } from "./derive.ts";
import { extract, EXTRACT_USAGE } from "./extract.ts";
import { inspect, INSPECT_USAGE } from "./inspect.ts";
import { pack, PACK_USAGE } from "./pack.ts";
import { pull, PULL_USAGE } from "./pull.ts";
import { unpack, UNPACK_USAGE } from "./unpack.ts";
import { UsageError } from "./usage_error.ts";
import { verify, VERIFY_USAGE } from "./verify.ts";

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  pack,
  unpack,
  inspect,
  verify,
  extract,
  demo,
  pull,
  derive,
};

const USAGE = [
  PACK_USAGE,
  UNPACK_USAGE,
  INSPECT_USAGE,
  VERIFY_USAGE,
  EXTRACT_USAGE,
  "demo [--out DIR]",
  PULL_USAGE,
  DERIVE_USAGE,
]
  .map((u) => `  deno task ${u}`).join("\n");

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const command = COMMANDS[name ?? ""];
  if (!command) {
    console.error(`usage:\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (e) {
    if (
      e instanceof UsageError ||
      (e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      console.error(
        `error: ${e.message}\nusage: deno task ${
          USAGE.split("\n").find((u) => u.includes(`task ${name} `))?.trim().slice(10) ?? name
        }`,
      );
      return 2;
    }
    if (
      e instanceof SafetensorsError || e instanceof ContainerError || e instanceof CodecError ||
      e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied ||
      e instanceof RangeError ||
      e instanceof Deno.errors.AlreadyExists || e instanceof Deno.errors.IsADirectory
    ) {
      const kind = "kind" in e ? ` [${(e as { kind: string }).kind}]` : "";
      console.error(`error${kind}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
