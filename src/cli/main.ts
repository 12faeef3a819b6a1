/**
 * The `tessera` command line: one subcommand per file in this folder. Relative paths are the
 * caller's (also under `deno task`), and operating-system errors (a busy port, a full disk, a
 * missing folder, a permission) are one line and exit code 1.
 * @module
 */
import { CodecError } from "../../codec/errors.ts";
import { ContainerError } from "../container/errors.ts";
import { SafetensorsError } from "../safetensors/errors.ts";
import { main as serve } from "../server_main.ts";
import { SERVE_USAGE } from "../server/config.ts";
import { StoreError } from "../store/errors.ts";
import { demo } from "./demo.ts";
import { extract, EXTRACT_USAGE } from "./extract.ts";
import { IMPORT_USAGE, importFolder } from "./import.ts";
import { inspect, INSPECT_USAGE } from "./inspect.ts";
import { describeOsError, reportFileSizeLimits } from "./os_errors.ts";
import { pack, PACK_USAGE } from "./pack.ts";
import { useCallerFolder } from "./paths.ts";
import { pull, PULL_USAGE } from "./pull.ts";
import { push, PUSH_USAGE } from "./push.ts";
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
  push,
  import: importFolder,
  serve,
};

const USAGE = [
  PACK_USAGE,
  UNPACK_USAGE,
  INSPECT_USAGE,
  VERIFY_USAGE,
  EXTRACT_USAGE,
  "demo [--out DIR]",
  PULL_USAGE,
  PUSH_USAGE,
  IMPORT_USAGE,
  SERVE_USAGE.replace(/^usage: deno task /, "").replace(/\n\s+/g, " "),
]
  .map((u) => `  tessera ${u}`).join("\n");

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const command = Object.hasOwn(COMMANDS, name ?? "") ? COMMANDS[name] : undefined;
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
      const usage = USAGE.split("\n").find((u) => u.includes(`tessera ${name} `))?.trim();
      console.error(`error: ${e.message}\nusage: ${usage ?? name}`);
      return 2;
    }
    const os = describeOsError(e);
    if (os !== null) {
      console.error(`error: ${os}`);
      return 1;
    }
    if (
      e instanceof SafetensorsError || e instanceof ContainerError || e instanceof CodecError ||
      e instanceof StoreError || e instanceof RangeError
    ) {
      const kind = "kind" in e ? ` [${(e as { kind: string }).kind}]` : "";
      console.error(`error${kind}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) {
  useCallerFolder();
  reportFileSizeLimits();
  Deno.exit(await main(Deno.args));
}
