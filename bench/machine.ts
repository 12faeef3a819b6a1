/**
 * What the bench ran on and with: the machine, the tools, and a snapshot of the code the workers run.
 * @module
 */
import { REPO } from "./config.ts";
import { run } from "./processes.ts";

// native/build holds the kernels `deno task bench` has just built; absent, workers use TypeScript.
export const SNAPSHOT = [
  "codec",
  "src",
  "native/build",
  "bench/codec_worker.ts",
  "bench/zstd_command.ts",
  "deno.json",
  "deno.lock",
];

export async function listFiles(path: string): Promise<string[]> {
  const st = await Deno.stat(`${REPO}/${path}`);
  if (st.isFile) return [path];
  const out: string[] = [];
  for await (const e of Deno.readDir(`${REPO}/${path}`)) {
    if (e.isFile) out.push(`${path}/${e.name}`);
    else if (e.isDirectory) out.push(...await listFiles(`${path}/${e.name}`));
  }
  return out;
}

export const hexOf = (bytes: ArrayBuffer) =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Copies the code the workers run into `dir`, so that every child of one run measures the same
 * code even while others edit the tree; returns a SHA-256 over the paths and contents of the
 * copied codec/ and src/ files.
 */
export async function snapshotCode(dir: string): Promise<{ files: number; sourceSha256: string }> {
  const files: string[] = [];
  for (const p of SNAPSHOT) {
    try {
      files.push(...await listFiles(p));
    } catch {
      // deno.lock may be absent
    }
  }
  files.sort();
  const lines: string[] = [];
  for (const f of files) {
    const bytes = await Deno.readFile(`${REPO}/${f}`);
    const to = `${dir}/${f}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(to, bytes);
    if (f.startsWith("codec/") || f.startsWith("src/")) {
      lines.push(`${f} ${hexOf(await crypto.subtle.digest("SHA-256", bytes))}`);
    }
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lines.join("\n")));
  return { files: files.length, sourceSha256: hexOf(digest) };
}

// ---------------------------------------------------------------------------------------------
// Machine

export async function machineInfo() {
  let cpu: string | null = null, memTotal: number | null = null;
  try {
    cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/^model name\s*:\s*(.+)$/m)?.[1] ??
      null;
  } catch { /* not Linux */ }
  try {
    const kb = (await Deno.readTextFile("/proc/meminfo")).match(/^MemTotal:\s+(\d+)/m)?.[1];
    memTotal = kb ? Number(kb) * 1024 : null;
  } catch { /* not Linux */ }
  const firstLine = async (cmd: string, args: string[]) => {
    const r = await run(cmd, args, 10_000);
    return r.ok ? (r.stdout || r.stderr).trim().split("\n")[0] : null;
  };
  return {
    cpu,
    nproc: navigator.hardwareConcurrency,
    memTotalBytes: memTotal,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    gitCommit: await firstLine("git", ["rev-parse", "HEAD"]),
    gitDirty: await (async () => {
      const r = await run("git", ["status", "--porcelain", "--", "codec", "src"], 10_000);
      return r.ok ? r.stdout.split("\n").filter(Boolean) : null;
    })(),
    codeSnapshot: null as { files: number; sourceSha256: string } | null,
    loadavgStart: Deno.loadavg(),
    loadavgEnd: null as number[] | null,
    tools: {
      zstd: await firstLine("zstd", ["--version"]),
      xz: await firstLine("xz", ["--version"]),
      bzip2: await (async () => {
        const r = await run("bzip2", ["--help"], 10_000);
        return r.stderr.trim().split("\n")[0] || null;
      })(),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Output
