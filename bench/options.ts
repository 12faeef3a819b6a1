/**
 * The codec bench's command line, parsed by `node:util`'s `parseArgs`.
 * @module
 */
import { parseArgs as parseCommandLine } from "node:util";
import { REPO, stem } from "./config.ts";

/** What the bench runs. */
export interface Options {
  /** Where the shared `*.safetensors` are. */
  dataDir: string;
  /** Only these inputs (stems), or all. */
  files: string[] | null;
  /** 3 runs, no zstd -19 / xz -6, short zstd -b, no big-file run. */
  quick: boolean;
  /** Whether to run the synthetic file over 2 GB. */
  big: boolean;
  /** Whether to make and measure the quantised inputs (bench/inputs/quantised.ts). */
  quantised: boolean;
  /** Timed decode runs per child. */
  runs: number;
  /** Size of the synthetic file. */
  bigBytes: number;
  /** Untimed decode warm-up per child. */
  warmupMs: number;
  /** Results JSON path, or the dated default. */
  out: string | null;
}

const USAGE = "usage: deno task bench [--quick] [--no-big] [--no-quantised] [--data DIR] " +
  "[--files a,b] [--runs N] [--warmup-ms MS] [--big-gb G] [--out FILE]\n" +
  "  --data DIR       where the *.safetensors are (default ../shared/data or ../../shared/data)\n" +
  "  --files a,b      only these inputs (stem or file name; quantised ones: <model>.<recipe>)\n" +
  "  --quick          3 runs, no zstd -19 / xz -6, short zstd -b, no big-file run\n" +
  "  --no-big         skip the synthetic >2 GB run\n" +
  "  --no-quantised   skip the FP8, INT8 and INT4 inputs made from the FP32 files\n" +
  "  --runs N         timed decode runs, median reported (default 5)\n" +
  "  --warmup-ms MS   untimed decode warm-up per child, at least 2 runs (default 500; 0 = none)\n" +
  "  --big-gb G       size of the synthetic file in GB (default 2.2)\n" +
  "  --out FILE       results JSON (default bench/results/<date>.json)";

/**
 * `../shared/data` from the checkout, or from its parent for a worktree one level deeper
 * (`/work/wt/<name>` beside `/work/shared`).
 */
function defaultDataDir(): string {
  for (const dir of [`${REPO}/../shared/data`, `${REPO}/../../shared/data`]) {
    try {
      if (Deno.statSync(dir).isDirectory) return dir;
    } catch {
      // try the next
    }
  }
  return `${REPO}/../shared/data`;
}

/** Prints the usage and exits with status 2. */
export function usage(why?: string): never {
  if (why) console.error(why);
  console.error(USAGE);
  Deno.exit(2);
}

/** The options `args` give; exits with the usage on a bad one. */
export function parseArgs(args: string[]): Options {
  let values;
  try {
    ({ values } = parseCommandLine({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        data: { type: "string" },
        files: { type: "string" },
        quick: { type: "boolean" },
        "no-big": { type: "boolean" },
        "no-quantised": { type: "boolean" },
        runs: { type: "string" },
        "warmup-ms": { type: "string" },
        "big-gb": { type: "string" },
        out: { type: "string" },
      },
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  const number = (name: string, v: string | undefined, ok: (n: number) => boolean) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!ok(n)) usage(`--${name} ${v}: not a valid value`);
    return n;
  };
  const runs = number("runs", values.runs, (n) => Number.isInteger(n) && n >= 1);
  const quick = values.quick ?? false;
  return {
    dataDir: values.data ?? defaultDataDir(),
    files: values.files?.split(",").map((s) => s.trim()).filter(Boolean).map(stem) ?? null,
    quick,
    big: !values["no-big"] && !quick,
    quantised: !values["no-quantised"],
    runs: runs ?? (quick ? 3 : 5),
    bigBytes: (number("big-gb", values["big-gb"], (n) => n > 0) ?? 2.2) * 1e9,
    warmupMs: number("warmup-ms", values["warmup-ms"], (n) => n >= 0) ?? 500,
    out: values.out ?? null,
  };
}
