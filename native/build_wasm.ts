/**
 * Builds the decode kernels (native/tsr_kernel.c, native/tsr_sha256.c) for WebAssembly, for
 * browsers: `native/wasm/tsr_kernel.wasm`, committed so that a browser decodes fast without a
 * compiler on the server. Needs clang and wasm-ld (Debian: `apt-get install clang lld`).
 *
 * ```
 * deno task wasm            # rebuild native/wasm/tsr_kernel.wasm
 * deno task wasm --check    # rebuild into a temporary file and compare with the committed one
 * ```
 *
 * The build is deterministic for a given clang: the check fails when the committed binary is not
 * what its sources build to, and is skipped (saying so) without clang.
 * @module
 */
const here = new URL(".", import.meta.url).pathname;
const sources = [`${here}tsr_kernel.c`, `${here}tsr_sha256.c`];
const output = `${here}wasm/tsr_kernel.wasm`;
/** What JavaScript calls; everything else stays internal to the module. */
const EXPORTS = [
  "tsr_abi",
  "tsr_xxh32",
  "tsr_decode_batch",
  "tsr_sha256_init",
  "tsr_sha256_update",
  "tsr_sha256_final",
  "__heap_base",
];

async function clangVersion(): Promise<string | null> {
  try {
    const r = await new Deno.Command("clang", { args: ["--version"], stdout: "piped" }).output();
    return r.success ? new TextDecoder().decode(r.stdout).split("\n")[0] : null;
  } catch {
    return null;
  }
}

/** Builds the module into `out`; returns false when clang is missing. */
export async function buildWasm(out: string): Promise<boolean> {
  if (!(await clangVersion())) return false;
  const r = await new Deno.Command("clang", {
    args: [
      "--target=wasm32",
      "-O3",
      // memory.copy/fill for memcpy/memset, and 128-bit SIMD: every current browser has both.
      "-mbulk-memory",
      "-msimd128",
      "-nostdlib",
      "-ffreestanding",
      `-I${here}wasm`,
      "-Wall",
      "-Wextra",
      "-Wl,--no-entry",
      ...EXPORTS.map((e) => `-Wl,--export=${e}`),
      "-o",
      out,
      ...sources,
    ],
  }).output();
  if (!r.success) {
    console.error(new TextDecoder().decode(r.stderr));
    throw new Error("wasm kernels: the build failed");
  }
  return true;
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const version = await clangVersion();
  if (!version) {
    console.log("wasm kernels: clang not found; " + (check ? "check skipped" : "nothing built"));
    Deno.exit(0);
  }
  const target = check ? await Deno.makeTempFile({ suffix: ".wasm" }) : `${output}.tmp`;
  await buildWasm(target);
  if (check) {
    const [built, committed] = await Promise.all([Deno.readFile(target), Deno.readFile(output)]);
    await Deno.remove(target);
    const same = built.length === committed.length && built.every((b, i) => b === committed[i]);
    if (!same) {
      console.error(
        `wasm kernels: ${output} is not what its sources build to with ${version}; ` +
          "run `deno task wasm` and commit the result",
      );
      Deno.exit(1);
    }
    console.log(`wasm kernels: ${output} matches its sources (${version})`);
  } else {
    await Deno.rename(target, output);
    console.log(`wasm kernels: built ${output} with ${version}`);
  }
}
