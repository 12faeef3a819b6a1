/**
 * Command-line options of the commands that import nothing else from `node:` (`pull`, `extract`,
 * `inspect`): `--name value`, `--name=value`, a one-letter alias `-n value`, flags without a value,
 * and `--` before positionals that start with a dash, as node:util's `parseArgs` reads them. Written here because
 * importing any `node:` module starts Deno's Node compatibility layer: `node:util` alone cost
 * every `pull` 26 ms of CPU and about 50 ms of wall time before its first request (perf stat, 8
 * alternating runs of a one-line script against an empty one).
 * @module
 */
import { UsageError } from "./usage_error.ts";

/** An option: its one-letter alias, if any, and its default. */
export interface OptionSpec {
  /** `-x` for `--name`. */
  readonly short?: string;
  /** The value when the option is not given. */
  readonly default?: string;
  /** A flag takes no value: given, its value is `"true"`. */
  readonly flag?: true;
}

/**
 * Splits `args` into the values of `options` (the last one given wins) and the positionals.
 * An unknown option, or one without its value, is a {@link UsageError}.
 *
 * @example
 * ```ts
 * import { parseOptions } from "./args.ts";
 * const { values, positionals } = parseOptions(["a", "--rows=1:2", "-o", "x"], {
 *   rows: {},
 *   output: { short: "o" },
 * });
 * console.assert(values.rows === "1:2" && values.output === "x" && positionals[0] === "a");
 * ```
 */
export function parseOptions<K extends string>(
  args: readonly string[],
  options: Readonly<Record<K, OptionSpec>>,
): { values: Partial<Record<K, string>>; positionals: string[] } {
  const names = Object.keys(options) as K[];
  const values: Partial<Record<K, string>> = {};
  for (const k of names) if (options[k].default !== undefined) values[k] = options[k].default;
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    const long = a.startsWith("--");
    const eq = long ? a.indexOf("=") : -1;
    const flag = eq >= 0 ? a.slice(0, eq) : a;
    const name = long
      ? names.find((k) => k === flag.slice(2))
      : names.find((k) => options[k].short !== undefined && `-${options[k].short}` === flag);
    if (name === undefined) throw new UsageError(`unknown option ${flag}`);
    if (options[name].flag) {
      if (eq >= 0) throw new UsageError(`option ${flag} takes no value`);
      values[name] = "true";
    } else if (eq >= 0) values[name] = a.slice(eq + 1);
    else if (i + 1 < args.length && isValue(args[i + 1])) values[name] = args[++i];
    else if (i + 1 < args.length) {
      // As node:util reads it: `--name -x` is more likely a forgotten value than a value.
      throw new UsageError(
        `option ${flag} needs a value (write ${long ? flag : `--${name}`}=${args[i + 1]} ` +
          `if the value starts with "-")`,
      );
    } else throw new UsageError(`option ${flag} needs a value`);
  }
  return { values, positionals };
}

/** A lone `-` (stdin or stdout, by convention) is a value; any other word led by `-` is an option. */
function isValue(word: string): boolean {
  return word === "-" || !word.startsWith("-");
}
