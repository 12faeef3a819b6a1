/**
 * Processes for `bench:transfer`: long-running children (servers) with their output in a log,
 * timed whole-process commands with their peak RSS, and the peak RSS of a running process read and
 * reset through /proc.
 * @module
 */

/** A long-running child. */
export interface Child {
  /** Label for messages. */
  readonly name: string;
  /** The process. */
  readonly process: Deno.ChildProcess;
  /** Its log file (stdout and stderr). */
  readonly log: string;
  /** Set once it has exited. */
  readonly exited: () => boolean;
}

const children = new Set<Child>();

/** Starts `cmd args`, stdout and stderr appended to `log`; {@link stopAll} ends it. */
export async function spawnChild(
  name: string,
  cmd: string,
  args: string[],
  log: string,
  cwd?: string,
): Promise<Child> {
  const process = new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const file = await Deno.open(log, { write: true, create: true, append: true });
  const sink = () =>
    new WritableStream<Uint8Array>({
      write: async (chunk) => {
        for (let n = 0; n < chunk.length;) n += await file.write(chunk.subarray(n));
      },
    });
  // Both streams are drained so that a chatty child never blocks on a full pipe.
  Promise.allSettled([process.stdout.pipeTo(sink()), process.stderr.pipeTo(sink())])
    .then(() => file.close());
  let done = false;
  process.status.then(() => (done = true));
  const child = { name, process, log, exited: () => done };
  children.add(child);
  return child;
}

/** Stops `child` with SIGTERM, then SIGKILL after 3 s. */
export async function stopChild(child: Child): Promise<void> {
  children.delete(child);
  try {
    child.process.kill("SIGTERM");
  } catch {
    return; // already gone
  }
  const exited = await Promise.race([
    child.process.status.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
  ]);
  if (!exited) {
    try {
      child.process.kill("SIGKILL");
    } catch {
      // gone meanwhile
    }
    await child.process.status;
  }
}

/** Stops every child started by {@link spawnChild}. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map(stopChild));
}

/** Polls `url` until it answers 2xx; throws after `ms` with the end of the child's log. */
export async function waitReady(url: string, child: Child, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !child.exited()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const log = await Deno.readTextFile(child.log).catch(() => "");
  throw new Error(
    `${child.name} did not answer ${url}${child.exited() ? " (it exited)" : ""}; log:\n` +
      log.split("\n").slice(-30).join("\n"),
  );
}

/** A finished timed command. */
export interface Timed {
  /** Wall time from spawn to exit, ms. */
  readonly ms: number;
  /** Exit code. */
  readonly code: number;
  /** Standard output. */
  readonly stdout: string;
  /** Standard error (without `/usr/bin/time`'s line). */
  readonly stderr: string;
  /** Peak resident set size of the command, KiB, from `/usr/bin/time`; null without it. */
  readonly peakRssKiB: number | null;
  /**
   * CPU time of the command (user + system, its children included), ms, from `/usr/bin/time`;
   * null without it. Steadier than wall time on a shared machine.
   */
  readonly cpuMs: number | null;
  /** Lines of stdout with the ms (from spawn) at which each arrived. */
  readonly lines: { readonly ms: number; readonly text: string }[];
}

let timeBin: string | null | undefined;

async function findTime(): Promise<string | null> {
  if (timeBin !== undefined) return timeBin;
  try {
    await Deno.stat("/usr/bin/time");
    timeBin = "/usr/bin/time";
  } catch {
    timeBin = null;
  }
  return timeBin;
}

/** Whether peak RSS of commands can be measured (`/usr/bin/time` is installed). */
export async function canMeasureRss(): Promise<boolean> {
  return (await findTime()) !== null;
}

/**
 * Runs `cmd args` to completion and times it as a whole process (spawn to exit), with its peak
 * RSS and CPU time through `/usr/bin/time -f "%M %U %S"` when installed. Stdout lines are timestamped as they arrive,
 * so a child can report progress (loadModel's first layer) on the same clock. Killed after
 * `timeoutMs`.
 */
export async function timed(
  cmd: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<Timed> {
  const time = await findTime();
  const rssFile = time ? await Deno.makeTempFile({ prefix: "tessera-rss-" }) : null;
  const argv = time ? [time, "-f", "%M %U %S", "-o", rssFile!, cmd, ...args] : [cmd, ...args];
  const t0 = performance.now();
  const p = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: options.cwd,
    env: options.env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      p.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
  }, options.timeoutMs ?? 600_000);
  const lines: { ms: number; text: string }[] = [];
  const readLines = async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of p.stdout) {
      const now = performance.now() - t0;
      rest += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        lines.push({ ms: now, text: rest.slice(0, nl) });
        rest = rest.slice(nl + 1);
      }
    }
    if (rest) lines.push({ ms: performance.now() - t0, text: rest });
  };
  const [, stderrBytes, status] = await Promise.all([
    readLines(),
    new Response(p.stderr).arrayBuffer(),
    p.status,
  ]);
  const ms = performance.now() - t0;
  clearTimeout(timer);
  let peakRssKiB: number | null = null, cpuMs: number | null = null;
  if (rssFile) {
    const text = await Deno.readTextFile(rssFile).catch(() => "");
    await Deno.remove(rssFile).catch(() => {});
    const last = text.trim().split("\n").at(-1) ?? "";
    const m = /^(\d+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(last);
    if (m) {
      peakRssKiB = Number(m[1]);
      cpuMs = Math.round((Number(m[2]) + Number(m[3])) * 1000);
    }
  }
  return {
    ms,
    code: status.code,
    stdout: lines.map((l) => l.text).join("\n"),
    stderr: new TextDecoder().decode(stderrBytes),
    peakRssKiB,
    cpuMs,
    lines,
  };
}

/** Pids of `pid` and of its descendants, from /proc. */
export async function processTree(pid: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      // The command name is in parentheses and may hold spaces; ppid is the 2nd field after it.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(e.name), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const [p, pp] of parent) if (pp === out[i]) out.push(p);
  }
  return out;
}

/** Peak RSS (VmHWM) in KiB, summed over `pid` and its descendants; null if unreadable. */
export async function peakRssKiB(pid: number): Promise<number | null> {
  let total = 0, seen = false;
  for (const p of await processTree(pid)) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(await Deno.readTextFile(`/proc/${p}/status`));
      if (m) total += Number(m[1]), seen = true;
    } catch {
      // exited meanwhile
    }
  }
  return seen ? total : null;
}

/**
 * Resets the peak RSS of `pid` and its descendants to their current RSS (`clear_refs` 5, Linux
 * 4.0+), so that {@link peakRssKiB} afterwards is the peak of what happened in between. Returns
 * false if the kernel refused.
 */
export async function resetPeakRss(pid: number): Promise<boolean> {
  let ok = true;
  for (const p of await processTree(pid)) {
    try {
      await Deno.writeTextFile(`/proc/${p}/clear_refs`, "5");
    } catch {
      ok = false;
    }
  }
  return ok;
}
