/**
 * The `tessera` command line: one subcommand per file in this folder.
 * @module
 */
import { CodecError } from "../../codec/errors.ts";
import { ContainerError } from "../container/errors.ts";
import { SafetensorsError } from "../safetensors/errors.ts";
import { UsageError } from "./usage_error.ts";

/** A command module: its runner and its usage line. */
type Command = { run: (args: string[]) => Promise<number>; usage: string };

// Each command is imported only when it runs: a command's start-up then pays for its own modules
// only (unpack does not load the HTTP client, pull does not load the writer).
const COMMANDS: Record<string, () => Promise<Command>> = {
  pack: async () => {
    const m = await import("./pack.ts");
    return { run: m.pack, usage: m.PACK_USAGE };
  },
  unpack: async () => {
    const m = await import("./unpack.ts");
    return { run: m.unpack, usage: m.UNPACK_USAGE };
  },
  inspect: async () => {
    const m = await import("./inspect.ts");
    return { run: m.inspect, usage: m.INSPECT_USAGE };
  },
  verify: async () => {
    const m = await import("./verify.ts");
    return { run: m.verify, usage: m.VERIFY_USAGE };
  },
  extract: async () => {
    const m = await import("./extract.ts");
    return { run: m.extract, usage: m.EXTRACT_USAGE };
  },
  demo: async () => {
    const m = await import("./demo.ts");
    return { run: m.demo, usage: "demo [--out DIR]" };
  },
  pull: async () => {
    const m = await import("./pull.ts");
    return { run: m.pull, usage: m.PULL_USAGE };
  },
  derive: async () => {
    const m = await import("./derive.ts");
    return { run: m.derive, usage: m.DERIVE_USAGE };
  },
};

/** Every command's usage, for the help text (loads every command). */
async function usage(): Promise<string> {
  const lines = await Promise.all(Object.values(COMMANDS).map(async (c) => (await c()).usage));
  return lines.map((u) => `  deno task ${u}`).join("\n");
}

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const load = COMMANDS[name ?? ""];
  if (!load) {
    console.error(`usage:\n${await usage()}`);
    return 2;
  }
  const command = await load();
  try {
    return await command.run(rest);
  } catch (e) {
    if (
      e instanceof UsageError ||
      (e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      console.error(`error: ${e.message}\nusage: deno task ${command.usage}`);
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
