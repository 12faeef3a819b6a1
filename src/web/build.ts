/**
 * `deno task web:build`: bundles the page scripts of `client/` into `assets/` with `deno bundle`
 * (esbuild inside Deno; no Node build chain), minified, one self-contained file per page, plus
 * the two the model page loads later: its charts' (once its table is usable) and the download
 * panel's (when it is used). The bundles are committed so
 * that the server needs no build step and works offline; `--check` rebuilds them into a
 * temporary folder and fails if any differs from the committed one (the test suite runs it).
 * @module
 */

/** The page scripts: entry point in `client/` → bundle in `assets/`. */
export const ENTRIES = ["home", "model", "model_charts", "tensor", "status", "download"] as const;

const HERE = new URL("./", import.meta.url);

/** Bundles every entry into `outDir`; throws with deno bundle's output when it fails. */
export async function buildBundles(outDir: URL): Promise<void> {
  const args = [
    "bundle",
    "--quiet",
    "--platform",
    "browser",
    "--minify",
    "--outdir",
    outDir.pathname,
    ...ENTRIES.map((e) => new URL(`client/${e}.ts`, HERE).pathname),
  ];
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: new URL("../../", HERE).pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!out.success) {
    throw new Error(`deno bundle failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Names of the committed bundles that differ from a fresh build (empty: all match). */
export async function staleBundles(): Promise<string[]> {
  const tmp = await Deno.makeTempDir({ prefix: "tessera_web_" });
  try {
    const dir = new URL(`file://${tmp}/`);
    await buildBundles(dir);
    const stale: string[] = [];
    for (const e of ENTRIES) {
      const fresh = await Deno.readFile(new URL(`${e}.js`, dir));
      const committed = await Deno.readFile(new URL(`assets/${e}.js`, HERE)).catch(() => null);
      if (
        !committed || committed.length !== fresh.length ||
        !committed.every((b, i) => b === fresh[i])
      ) {
        stale.push(`${e}.js`);
      }
    }
    return stale;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args.includes("--check")) {
    const stale = await staleBundles();
    if (stale.length > 0) {
      console.error(`stale bundles (run deno task web:build): ${stale.join(", ")}`);
      Deno.exit(1);
    }
    console.log("bundles match their sources");
  } else {
    await buildBundles(new URL("assets/", HERE));
    for (const e of ENTRIES) {
      const { size } = await Deno.stat(new URL(`assets/${e}.js`, HERE));
      console.log(`src/web/assets/${e}.js ${(size / 1024).toFixed(1)} KiB`);
    }
  }
}
