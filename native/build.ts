/**
 * Builds the native kernels (native/tsr_kernel.c: chunk decoding; native/tsr_sha256.c: SHA-256)
 * into one library in native/build/ with the system C compiler. Optional: without a compiler it says so and succeeds, and Tessera decodes with its
 * TypeScript codec instead.
 *
 * ```
 * deno task native
 * deno task native --sanitize   # the sanitizer driver instead (native/sanitize_build.ts)
 * ```
 * @module
 */
const here = new URL(".", import.meta.url).pathname;
const sources = [`${here}tsr_kernel.c`, `${here}tsr_sha256.c`], outDir = `${here}build`;
const output = `${outDir}/libtsr_kernel.so`;

async function compiler(): Promise<string | null> {
  for (const cc of [Deno.env.get("CC"), "cc", "gcc", "clang"]) {
    if (!cc) continue;
    try {
      const r = await new Deno.Command(cc, { args: ["--version"], stdout: "null", stderr: "null" })
        .output();
      if (r.success) return cc;
    } catch {
      // Not installed; try the next.
    }
  }
  return null;
}

if (Deno.args.includes("--sanitize")) {
  const { buildSanitized } = await import("./sanitize_build.ts");
  Deno.exit(await buildSanitized(await compiler(), sources[0], outDir));
}
if (Deno.build.os !== "linux" && Deno.build.os !== "darwin") {
  console.log(`native kernels: not built on ${Deno.build.os}; the TypeScript codec is used`);
  Deno.exit(0);
}
// Skipped when the library was built from these very sources (their SHA-256 is kept beside it),
// so that `serve` and `demo` start at once.
const all = await Promise.all(sources.map((s) => Deno.readFile(s)));
const joined = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
all.reduce((at, b) => (joined.set(b, at), at + b.length), 0);
const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
const sourceSha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
const stamp = `${output}.source-sha256`;
const built = await Deno.stat(output).then(() => true, () => false);
if (built && (await Deno.readTextFile(stamp).catch(() => "")).trim() === sourceSha256) {
  console.log(`native kernels: ${output} is up to date`);
  Deno.exit(0);
}
const cc = await compiler();
if (!cc) {
  console.log(
    built
      ? `native kernels: no C compiler found; using the existing ${output}`
      : "native kernels: no C compiler found; the TypeScript codec is used",
  );
  Deno.exit(0);
}
await Deno.mkdir(outDir, { recursive: true });
// Built to a temporary name and renamed, so a running process never loads a half-written file.
const temp = `${output}.${Deno.pid}.tmp`;
const r = await new Deno.Command(cc, {
  args: ["-O3", "-std=c11", "-Wall", "-Wextra", "-fPIC", "-shared", "-o", temp, ...sources],
}).output();
if (!r.success) {
  console.error(new TextDecoder().decode(r.stderr));
  await Deno.remove(temp).catch(() => {});
  console.error("native kernels: the build failed");
  Deno.exit(1);
}
await Deno.rename(temp, output);
await Deno.writeTextFile(stamp, sourceSha256 + "\n");
console.log(`native kernels: built ${output} with ${cc}`);
