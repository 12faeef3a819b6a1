/**
 * nginx as the static baseline of `bench:transfer`: found on the machine, or installed with
 * `apt-get install nginx-light` when missing and the bench runs as root on Debian (the bench
 * reports that it did), run in the foreground with a configuration of the bench's own (loopback
 * only, sendfile, no access log, temporary files in the run's folder).
 * @module
 */

/** Where nginx is, and how it got there; `path: null` means the fallback server is used. */
export interface NginxFound {
  /** The binary, or null. */
  readonly path: string | null;
  /** `nginx -v`, when found. */
  readonly version: string | null;
  /** What happened: found, installed by this run, or why not. */
  readonly note: string;
}

const CANDIDATES = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"];

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).output();
    const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    return { ok: r.success, out };
  } catch (e) {
    return { ok: false, out: String(e) };
  }
}

async function locate(): Promise<string | null> {
  for (const c of CANDIDATES) if (await exists(c)) return c;
  return null;
}

/** Finds nginx, installing it with apt-get when missing and allowed (`install`). */
export async function ensureNginx(install: boolean): Promise<NginxFound> {
  let path = await locate(), note = "found";
  if (!path) {
    if (!install) return { path: null, version: null, note: "not installed (--no-install)" };
    if (Deno.uid?.() !== 0 || !(await exists("/usr/bin/apt-get"))) {
      return { path: null, version: null, note: "not installed, and apt-get as root unavailable" };
    }
    console.error("bench:transfer: nginx is missing; installing nginx-light with apt-get");
    let r = await run("apt-get", ["install", "-y", "-qq", "nginx-light"]);
    if (!r.ok) {
      await run("apt-get", ["update", "-qq"]);
      r = await run("apt-get", ["install", "-y", "-qq", "nginx-light"]);
    }
    path = await locate();
    if (!path) {
      return {
        path: null,
        version: null,
        note: `apt-get install nginx-light failed: ${r.out.trim().split("\n").slice(-2).join(" ")}`,
      };
    }
    note = "installed by this run with apt-get install nginx-light";
  }
  const v = await run(path, ["-v"]);
  return { path, version: v.out.trim() || null, note };
}

/** The configuration serving `root` on 127.0.0.1:`port`, with state under `dir`. */
export function nginxConfig(root: string, port: number, dir: string): string {
  const user = Deno.uid?.() === 0 ? "user root root;\n" : "";
  return `${user}worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`;
}

/** Writes the configuration under `dir`; returns the arguments to run nginx with. */
export async function nginxArgs(root: string, port: number, dir: string): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const conf = `${dir}/nginx.conf`;
  await Deno.writeTextFile(conf, nginxConfig(root, port, dir));
  return ["-p", dir, "-c", conf, "-e", `${dir}/error.log`];
}
