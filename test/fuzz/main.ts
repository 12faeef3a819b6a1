/**
 * `deno task fuzz`: seeded, time-bounded fuzzing of every parser and decoder that takes outside
 * bytes (test/fuzz/targets/). A supervised child process runs the cases; this process watches it,
 * so that a hang (no progress within the per-case limit) or a crash (the native kernel, say) is
 * pinned to one case by replaying that target case by case, and saved like any other finding
 * under test/fixtures/fuzz/, which test/fuzz/replay_test.ts replays in every test run.
 *
 * ```
 * deno task fuzz                          # about 60 s, seed 1, every target
 * deno task fuzz --seconds 10 --targets range,slice
 * deno task fuzz --long --seed 7 --summary bench/results/fuzz-long.json   # overnight; resumable
 * deno task fuzz --resume bench/results/fuzz-long.json --long             # continues that run
 * ```
 *
 * Exit status 1 when anything was found. Case k of a target in a run of seed s is a pure function
 * of (s, target, k), so a finding is reproduced from its number alone.
 * @module
 */
import { caseRng, encodeInput, type Finding, saveFinding } from "./core.ts";
import { selectTargets, TARGETS } from "./targets/all.ts";

interface Options {
  seconds: number;
  seed: number;
  targets: string[];
  caseLimitMs: number;
  summary: string | null;
  resume: string | null;
  long: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    seconds: NaN,
    seed: 1,
    targets: [],
    caseLimitMs: 10_000,
    summary: null,
    resume: null,
    long: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = () => argv[++i] ?? "";
    if (a === "--seconds") o.seconds = Number(v());
    else if (a === "--hours") o.seconds = Number(v()) * 3600;
    else if (a === "--seed") o.seed = Number(v());
    else if (a === "--targets") o.targets = v().split(",").filter(Boolean);
    else if (a === "--case-limit-ms") o.caseLimitMs = Number(v());
    else if (a === "--summary") o.summary = v();
    else if (a === "--resume") o.resume = v();
    else if (a === "--long") o.long = true;
    else throw new Error(`unknown option ${a}; see test/fuzz/main.ts`);
  }
  if (Number.isNaN(o.seconds)) o.seconds = o.long ? 8 * 3600 : 60;
  if (!(o.seconds > 0) || !Number.isSafeInteger(o.seed)) {
    throw new Error("--seconds must be > 0 and --seed an integer");
  }
  return o;
}

/** Per-target tallies, summed over segments. */
interface TargetTally {
  cases: number;
  next: number;
  slowestMs: number;
  findings: number;
}

/** One stretch of fuzzing with one seed; a resumed run appends one. */
interface Segment {
  seed: number;
  startedAt: string;
  seconds: number;
  cases: number;
  /** Child processes that crashed or stalled and were restarted. */
  restarts: number;
  /** Cases whose input generator threw: bugs of the fuzzer itself, reported and skipped. */
  generatorErrors: number;
  from: Record<string, number>;
  to: Record<string, number>;
}

/** The summary file: what ran, how much, and what was found. */
interface Summary {
  segments: Segment[];
  targets: Record<string, TargetTally & { covers: string }>;
  totalCases: number;
  totalSeconds: number;
  findings: string[];
}

const opts = parseArgs(Deno.args);
const targets = selectTargets(opts.targets);
const previous: Summary | null = opts.resume
  ? JSON.parse(await Deno.readTextFile(opts.resume))
  : null;
if (previous && previous.segments.at(-1)?.seed !== opts.seed && !Deno.args.includes("--seed")) {
  opts.seed = previous.segments.at(-1)!.seed;
}
const tally = new Map<string, TargetTally>(targets.map((t) => {
  const p = previous?.targets[t.name];
  const sameSeed = previous?.segments.at(-1)?.seed === opts.seed;
  return [t.name, {
    cases: p?.cases ?? 0,
    next: sameSeed ? p?.next ?? 0 : 0,
    slowestMs: p?.slowestMs ?? 0,
    findings: p?.findings ?? 0,
  }];
}));
const from = Object.fromEntries([...tally].map(([n, t]) => [n, t.next]));
const findings: string[] = [...(previous?.findings ?? [])];
const started = Date.now(), deadline = started + opts.seconds * 1000;
const child = new URL("./child.ts", import.meta.url).pathname;
const reported = new Set<string>();

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux this runs on

const PROCFS = (() => {
  try {
    Deno.statSync("/proc/self/stat");
    return true;
  } catch {
    return false;
  }
})();

/**
 * CPU time used so far by process `pid` (user + system, all threads), from /proc; null once the
 * process is gone. Without /proc, wall time, so that the limit still holds.
 */
function cpuMs(pid: number): number | null {
  if (!PROCFS) return Date.now();
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

// Longest a child may take to build its corpus before its first case.
const SETUP_LIMIT_MS = 180_000;
let restarts = 0, generatorErrors = 0;

/** What a child run ended with. */
interface ChildEnd {
  how: "done" | "crash" | "stall";
  /** The target whose slice was running when it stopped, and the last case it began (trace). */
  current: string | null;
  lastStarted: number | null;
  detail: string;
}

async function runChild(
  names: string[],
  until: number,
  extra: { trace?: boolean; limit?: Record<string, number> } = {},
): Promise<ChildEnd> {
  const start = Object.fromEntries(names.map((n) => [n, tally.get(n)!.next]));
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      child,
      "--seed",
      String(opts.seed),
      "--until",
      String(until),
      "--targets",
      names.join(","),
      "--start",
      JSON.stringify(start),
      "--limit",
      JSON.stringify(extra.limit ?? {}),
      "--trace",
      extra.trace ? "1" : "0",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const proc = cmd.spawn();
  let last = Date.now(), lastCpu = cpuMs(proc.pid) ?? 0;
  let current: string | null = null, lastStarted: number | null = null;
  let sawDone = false, stalled = false, ready = false, stderr = "";
  // The per-case limit is on the child's CPU time, so that a starved child (a loaded machine, or
  // nice 19) is not taken for a hung one; a child that waits without computing is caught by wall
  // time, at ten times the limit. Building the corpus may take long; cases may not.
  const watchdog = setInterval(() => {
    const now = cpuMs(proc.pid);
    if (now === null) return; // exited: the status tells how
    const wall = Date.now() - last, cpu = now - lastCpu;
    const limit = ready ? opts.caseLimitMs : SETUP_LIMIT_MS;
    if (cpu > limit || wall > 10 * limit) {
      stalled = true;
      try {
        proc.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }, 250);
  const errDone = (async () => {
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + chunk).slice(-4000);
    }
  })();
  let buffer = "";
  for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      last = Date.now();
      lastCpu = cpuMs(proc.pid) ?? lastCpu;
      const [tag, ...rest] = line.split(" ");
      if (tag === "R") {
        ready = true;
      } else if (tag === "B") {
        current = rest[0];
        lastStarted = null;
      } else if (tag === "S") {
        current = rest[0];
        lastStarted = Number(rest[1]);
      } else if (tag === "P") {
        const t = tally.get(rest[0])!;
        t.next = Number(rest[1]);
        t.cases += Number(rest[2]);
        t.slowestMs = Math.max(t.slowestMs, Number(rest[3]));
        current = null;
      } else if (tag === "F") {
        await record(JSON.parse(line.slice(2)) as Finding);
      } else if (tag === "G") {
        generatorErrors++;
        console.error(`fuzzer bug: ${line.slice(2)}`);
      } else if (tag === "D") {
        sawDone = true;
      }
    }
  }
  const status = await proc.status;
  clearInterval(watchdog);
  await errDone;
  if (sawDone && status.success) return { how: "done", current, lastStarted, detail: "" };
  restarts++;
  const how = stalled ? "stall" : "crash";
  const detail = stalled
    ? (ready
      ? `no progress within ${opts.caseLimitMs} ms of CPU time (or 10x that of wall time)`
      : `no corpus within ${SETUP_LIMIT_MS} ms`)
    : `child exited with ${status.signal ?? status.code}: ${stderr.trim().slice(-1500)}`;
  return { how, current, lastStarted, detail };
}

// More findings of one target than this are counted but not saved: one bug can fail every case.
const MAX_SAVED_PER_TARGET = 20;

async function record(f: Finding): Promise<void> {
  const key = `${f.target}/${f.seed}/${f.index}`;
  if (reported.has(key)) return;
  reported.add(key);
  const t = tally.get(f.target)!;
  t.findings++;
  if (t.findings > MAX_SAVED_PER_TARGET) return;
  const path = await saveFinding(f);
  findings.push(path);
  console.error(`FINDING ${f.kind} in ${f.target} case ${f.index}: ${f.message.split("\n")[0]}`);
  console.error(`  saved to ${path}`);
}

/** Pins a crash or hang of `name` to one case by replaying its cases one by one. */
async function pinDown(name: string, end: ChildEnd): Promise<void> {
  const from = tally.get(name)!.next;
  const trace = await runChild([name], Math.min(deadline, Date.now() + 60_000) + 30_000, {
    trace: true,
    limit: { [name]: 200_000 },
  });
  if (trace.how === "done" || trace.lastStarted === null) {
    console.error(
      `${name}: a ${end.how} after case ${from} (${end.detail}) did not recur case by case; ` +
        "continuing",
    );
    tally.get(name)!.next = Math.max(tally.get(name)!.next, from + 1);
    return;
  }
  const index = trace.lastStarted;
  // Confirm with that one case alone in a fresh child: a stall that does not recur was the
  // machine, not the case.
  tally.get(name)!.next = index;
  const alone = await runChild([name], Date.now() + 10 * opts.caseLimitMs + SETUP_LIMIT_MS, {
    trace: true,
    limit: { [name]: 1 },
  });
  if (alone.how === "done") {
    console.error(`${name}: case ${index} ran clean alone after a ${trace.how}; continuing`);
    tally.get(name)!.next = index + 1;
    return;
  }
  const target = TARGETS.find((t) => t.name === name)!;
  await target.setup?.();
  let input: unknown;
  try {
    input = target.generate(caseRng(opts.seed, name, index));
  } catch (e) {
    generatorErrors++;
    console.error(`fuzzer bug: ${name} case ${index}: the generator threw ${e}`);
    tally.get(name)!.next = index + 1;
    return;
  }
  await record({
    target: name,
    seed: opts.seed,
    index,
    kind: alone.how === "stall" ? "hang" : "crash",
    message: alone.detail,
    input: encodeInput(input),
  });
  tally.get(name)!.next = index + 1;
}

async function writeSummary(final: boolean): Promise<Summary> {
  const seconds = (Date.now() - started) / 1000;
  const cases = [...tally.values()].reduce((a, t) => a + t.cases, 0) -
    Object.values(previous?.targets ?? {}).reduce((a, t) => a + t.cases, 0);
  const segment: Segment = {
    seed: opts.seed,
    startedAt: new Date(started).toISOString(),
    seconds: Math.round(seconds),
    cases,
    restarts,
    generatorErrors,
    from,
    to: Object.fromEntries([...tally].map(([n, t]) => [n, t.next])),
  };
  const summary: Summary = {
    segments: [...(previous?.segments ?? []), segment],
    targets: Object.fromEntries(
      [...tally].map(([n, t]) => [n, { ...t, covers: TARGETS.find((x) => x.name === n)!.covers }]),
    ),
    totalCases: [...tally.values()].reduce((a, t) => a + t.cases, 0),
    totalSeconds: (previous?.totalSeconds ?? 0) + Math.round(seconds),
    findings,
  };
  if (opts.summary) {
    const tmp = `${opts.summary}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(summary, null, 1) + "\n");
    await Deno.rename(tmp, opts.summary);
  }
  if (final) printSummary(summary, seconds, cases);
  return summary;
}

function printSummary(s: Summary, seconds: number, cases: number): void {
  const rows = [...tally].map(([n, t]) =>
    `${n.padEnd(12)} ${String(t.cases).padStart(12)} ${
      String(Math.round(t.cases / Math.max(1, s.totalSeconds))).padStart(8)
    }/s  slowest ${t.slowestMs.toFixed(1).padStart(7)} ms  findings ${t.findings}`
  );
  console.log(["target         cases (total)    rate", ...rows].join("\n"));
  console.log(
    `fuzz: ${cases} cases in ${seconds.toFixed(0)} s this run (${
      Math.round(cases / seconds)
    }/s), seed ${opts.seed}, ${restarts} child restarts, ${generatorErrors} generator errors; ${s.totalCases} cases in all; ${
      [...tally.values()].reduce((a, t) => a + t.findings, 0)
    } findings`,
  );
}

let lastReport = Date.now();
const progress = opts.long
  ? setInterval(async () => {
    if (Date.now() - lastReport < 60_000) return;
    lastReport = Date.now();
    const s = await writeSummary(false);
    console.error(
      `${new Date().toISOString()} ${s.totalCases} cases, ${findings.length} findings`,
    );
  }, 5_000)
  : undefined;

const names = targets.map((t) => t.name);
while (Date.now() < deadline - 2_000) {
  const end = await runChild(names, deadline);
  if (end.how === "done") break;
  console.error(
    `${new Date().toISOString()} child ${end.how} in ${end.current ?? "setup"}: ` +
      end.detail.split("\n")[0],
  );
  if (end.current) await pinDown(end.current, end);
}
if (progress !== undefined) clearInterval(progress);
for (const t of targets) await t.teardown?.();
await writeSummary(true);
const found = [...tally.values()].reduce((a, t) => a + t.findings, 0) + generatorErrors;
Deno.exit(
  found > Object.values(previous?.targets ?? {}).reduce((a, t) => a + t.findings, 0) ? 1 : 0,
);
