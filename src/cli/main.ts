/**
 * The `tessera` command line: one subcommand per file in this folder. Relative paths are the
 * caller's (also under `deno task`), and operating-system errors (a busy port, a full disk, a
 * missing folder, a permission) are one line and exit code 1.
 * @module
 */
import { CodecError } from "../../codec/errors.ts";
import { ContainerError } from "../container/errors.ts";
import { SafetensorsError } from "../safetensors/errors.ts";
import { StoreError } from "../store/errors.ts";
import { describeOsError, reportFileSizeLimits } from "./os_errors.ts";
import { useCallerFolder } from "./paths.ts";
import { UsageError } from "./usage_error.ts";

/** A command module: its runner and its usage line. */
type Command = { run: (args: string[]) => Promise<number>; usage: string };

// Each command is imported only when it runs: a command's start-up then pays for its own modules
// only (unpack does not load the HTTP client or the server, pull does not load the writer). The
// specifiers go through `lazy` so that they are not string literals: Deno builds the module graph
// of every literal `import("...")` before the program starts, which read and resolved all 220
// modules of every command (server, store, routes, npm packages) in each process: 43 ms of CPU and
// about 50 ms of wall time of every command (perf stat, 10 alternating runs of a usage error of
// `unpack`). `deno task compile` names these modules with --include instead.
const COMMANDS: Record<string, () => Promise<Command>> = {
  pack: async () => {
    const m: typeof import("./pack.ts") = await import(lazy("./pack.ts"));
    return { run: m.pack, usage: m.PACK_USAGE };
  },
  unpack: async () => {
    const m: typeof import("./unpack.ts") = await import(lazy("./unpack.ts"));
    return { run: m.unpack, usage: m.UNPACK_USAGE };
  },
  inspect: async () => {
    const m: typeof import("./inspect.ts") = await import(lazy("./inspect.ts"));
    return { run: m.inspect, usage: m.INSPECT_USAGE };
  },
  verify: async () => {
    const m: typeof import("./verify.ts") = await import(lazy("./verify.ts"));
    return { run: m.verify, usage: m.VERIFY_USAGE };
  },
  extract: async () => {
    const m: typeof import("./extract.ts") = await import(lazy("./extract.ts"));
    return { run: m.extract, usage: m.EXTRACT_USAGE };
  },
  derive: async () => {
    const m: typeof import("./derive.ts") = await import(lazy("./derive.ts"));
    return { run: m.derive, usage: m.DERIVE_USAGE };
  },
  demo: async () => {
    const m: typeof import("./demo.ts") = await import(lazy("./demo.ts"));
    return { run: m.demo, usage: "demo [--out DIR]" };
  },
  pull: async () => {
    const m: typeof import("./pull.ts") = await import(lazy("./pull.ts"));
    return { run: m.pull, usage: m.PULL_USAGE };
  },
  push: async () => {
    const m: typeof import("./push.ts") = await import(lazy("./push.ts"));
    return { run: m.push, usage: m.PUSH_USAGE };
  },
  import: async () => {
    const m: typeof import("./import.ts") = await import(lazy("./import.ts"));
    return { run: m.importFolder, usage: m.IMPORT_USAGE };
  },
  gc: async () => {
    const m: typeof import("./gc.ts") = await import(lazy("./gc.ts"));
    return { run: m.gc, usage: m.GC_USAGE };
  },
  serve: async () => {
    const [m, c]: [typeof import("../server_main.ts"), typeof import("../server/config.ts")] =
      await Promise.all([import(lazy("../server_main.ts")), import(lazy("../server/config.ts"))]);
    return {
      run: m.main,
      usage: c.SERVE_USAGE.replace(/^usage: deno task /, "").replace(/\n\s+/g, " "),
    };
  },
};

/** `specifier` resolved against this module, as a value the module-graph builder does not follow. */
function lazy(specifier: string): string {
  return new URL(specifier, import.meta.url).href;
}

/** Every command's usage, for the help text (loads every command). */
async function usage(): Promise<string> {
  const lines = await Promise.all(Object.values(COMMANDS).map(async (c) => (await c()).usage));
  return lines.map((u) => `  tessera ${u}`).join("\n");
}

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const load = Object.hasOwn(COMMANDS, name ?? "") ? COMMANDS[name] : undefined;
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
      console.error(`error: ${e.message}\nusage: tessera ${command.usage}`);
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
