/**
 * Child processes of the codec bench: commands with timeouts, the measuring worker, medians.
 * @module
 */
import { REPO, workerHome } from "./config.ts";

export interface ProcResult {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
  wallSeconds: number;
  timedOut: boolean;
  error?: string;
}

/** Runs a command with a timeout; never throws. stdout "null" sends it to /dev/null. */
export async function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  stdout: "piped" | "null" = "piped",
  cwd = REPO,
): Promise<ProcResult> {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  const t0 = performance.now();
  try {
    const out = await new Deno.Command(cmd, {
      args,
      cwd,
      stdin: "null",
      stdout,
      stderr: "piped",
      signal: ac.signal,
    }).output();
    const wallSeconds = (performance.now() - t0) / 1000;
    const dec = new TextDecoder();
    const res: ProcResult = {
      ok: out.success && !timedOut,
      code: out.code,
      stdout: stdout === "piped" ? dec.decode(out.stdout) : "",
      stderr: dec.decode(out.stderr),
      wallSeconds,
      timedOut,
    };
    if (!res.ok) {
      res.error = timedOut
        ? `timed out after ${(timeoutMs / 1000).toFixed(0)} s`
        : `exit code ${out.code}${out.signal ? ` (signal ${out.signal})` : ""}: ${
          tail(res.stderr)
        }`;
    }
    return res;
  } catch (e) {
    return {
      ok: false,
      code: null,
      stdout: "",
      stderr: "",
      wallSeconds: (performance.now() - t0) / 1000,
      timedOut,
      error: timedOut ? `timed out after ${(timeoutMs / 1000).toFixed(0)} s` : errText(e),
    };
  } finally {
    clearTimeout(timer);
  }
}

export function tail(s: string, n = 400): string {
  const t = s.trim();
  return t.length > n ? "…" + t.slice(-n) : t;
}

export function errText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Runs the worker and parses its JSON line; failures come back as `{ ok: false, error }`. */
export async function worker(
  args: string[],
  timeoutMs: number,
): Promise<Record<string, unknown> & { ok: boolean; error?: string }> {
  const r = await run(
    Deno.execPath(),
    ["run", "-A", "--quiet", `${workerHome.dir}/bench/codec_worker.ts`, ...args],
    timeoutMs,
    "piped",
    workerHome.dir,
  );
  const line = r.stdout.trim().split("\n").filter(Boolean).at(-1);
  let parsed: Record<string, unknown> | null = null;
  try {
    if (line) parsed = JSON.parse(line);
  } catch {
    parsed = null;
  }
  if (parsed && parsed.ok === true && r.ok) return parsed as { ok: true };
  const why = (parsed?.error as string | undefined) ?? r.error ?? "no result";
  return { ok: false, error: r.timedOut ? r.error : why };
}

export async function which(bin: string): Promise<string | null> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const st = await Deno.stat(`${dir}/${bin}`);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return `${dir}/${bin}`;
    } catch {
      // not here
    }
  }
  return null;
}

/** Timeout for a process working through `bytes` at no less than `minRate` bytes per second. */
export function timeoutFor(bytes: number, minRate: number, baseSeconds = 60): number {
  return (baseSeconds + bytes / minRate) * 1000;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function log(msg: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}
