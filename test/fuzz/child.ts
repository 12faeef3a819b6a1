/**
 * The fuzzing process that `test/fuzz/main.ts` supervises: runs cases round-robin over the targets
 * in time slices and reports on stdout, one line each, so that the supervisor can tell a hang or a
 * crash and the case it happened in:
 *
 * - `R` once every target is set up (the corpus built), before the first case;
 * - `B <target>` when a slice of a target begins;
 * - `P <target> <next index> <cases> <slowest case ms>` after every slice;
 * - `S <target> <index>` before each case, in `--trace` mode only;
 * - `F <finding JSON>` for a case that broke an invariant or threw an undocumented error;
 * - `G <target> <index> <error>` when a case's input generator threw (a bug of the fuzzer);
 * - `D` when the run is over.
 * @module
 */
import { caseRng, encodeInput, type FuzzTarget, runCase } from "./core.ts";
import { selectTargets } from "./targets/all.ts";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) args.set(Deno.args[i], Deno.args[i + 1] ?? "");
const seed = Number(args.get("--seed") ?? 1);
const until = Number(args.get("--until") ?? Date.now() + 10_000);
const trace = args.get("--trace") === "1";
const sliceMs = Number(args.get("--slice-ms") ?? 100);
// Per target: the first case index, and how many cases at most (Infinity when unbounded).
const start: Record<string, number> = JSON.parse(args.get("--start") ?? "{}");
const limit: Record<string, number> = JSON.parse(args.get("--limit") ?? "{}");
const targets = selectTargets((args.get("--targets") ?? "").split(",").filter(Boolean));

// `<hang|crash>:<target>:<case>` makes that case hang or kill the process: the supervisor's test.
const [selfTest, selfTarget, selfIndex] = (Deno.env.get("TESSERA_FUZZ_SELFTEST") ?? "").split(":");

const encoder = new TextEncoder();
function say(line: string): void {
  // Synchronous, so that the line is out before a crash in the next case.
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

for (const t of targets) await t.setup?.();
say("R");
const next = new Map(targets.map((t) => [t.name, start[t.name] ?? 0]));
const done = new Map(targets.map((t) => [t.name, 0]));
let live = targets.filter((t) => (limit[t.name] ?? Infinity) > 0);

async function slice(t: FuzzTarget<unknown>): Promise<void> {
  const sliceEnd = Math.min(until, Date.now() + sliceMs * (t.weight ?? 1));
  let index = next.get(t.name)!, count = 0, slowest = 0;
  const max = limit[t.name] ?? Infinity;
  say(`B ${t.name}`);
  while (done.get(t.name)! + count < max) {
    if (trace) say(`S ${t.name} ${index}`);
    const t0 = performance.now();
    let input: unknown;
    try {
      input = t.generate(caseRng(seed, t.name, index));
    } catch (e) {
      // A bug of the fuzzer, not of the code under test: reported, and the case skipped.
      say(`G ${t.name} ${index} ${String((e as Error)?.stack ?? e).replaceAll("\n", " | ")}`);
      index++;
      count++;
      continue;
    }
    if (selfTest && t.name === selfTarget && index === Number(selfIndex)) {
      if (selfTest === "crash") Deno.exit(134);
      for (;;) { /* hang */ }
    }
    const outcome = await runCase(t, input);
    const ms = performance.now() - t0;
    if (ms > slowest) slowest = ms;
    if (outcome) {
      say(
        `F ${
          JSON.stringify({ target: t.name, seed, index, ...outcome, input: encodeInput(input) })
        }`,
      );
    }
    index++;
    count++;
    if ((count & 7) === 0 && Date.now() >= sliceEnd) break;
    if (trace && Date.now() >= sliceEnd) break;
  }
  next.set(t.name, index);
  done.set(t.name, done.get(t.name)! + count);
  say(`P ${t.name} ${index} ${count} ${slowest.toFixed(1)}`);
}

while (live.length && Date.now() < until) {
  for (const t of live) {
    if (Date.now() >= until) break;
    await slice(t);
  }
  live = live.filter((t) => done.get(t.name)! < (limit[t.name] ?? Infinity));
}
for (const t of targets) await t.teardown?.();
say("D");
