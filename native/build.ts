/**
 * Builds the native kernels (native/tsr_kernel.c: chunk decoding; native/tsr_sha256.c: SHA-256;
 * native/tsr_unpack.c: a whole-file unpack on threads of its own) into one library in
 * native/build/ with the system C compiler. Optional: without a compiler it says so and succeeds, and Tessera decodes with its
 * TypeScript codec instead.
 *
 * ```
 * deno task native
 * deno task native --sanitize   # the sanitizer driver instead (native/sanitize_build.ts)
 * ```
 * @module
 */
import { NATIVE_SOURCES, nativeSources } from "../src/codec_native/source_digest.ts";

const here = new URL(".", import.meta.url).pathname;
const sources = NATIVE_SOURCES.map((u) => u.pathname), outDir = `${here}build`;
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
  Deno.exit(await buildSanitized(await compiler(), sources, outDir));
}
if (Deno.build.os !== "linux" && Deno.build.os !== "darwin") {
  console.log(`native kernels: not built on ${Deno.build.os}; the TypeScript codec is used`);
  Deno.exit(0);
}
// Skipped when the library was built from these very sources (it answers their SHA-256), so that
// `serve` and `demo` start at once.
const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", nativeSources()!));
const sourceSha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
const built = await Deno.stat(output).then(() => true, () => false);
if (built && builtFrom(output) === sourceSha256) {
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
  args: [
    "-O3",
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-fPIC",
    "-shared",
    "-pthread",
    `-DTSR_SOURCE_SHA256="${sourceSha256}"`,
    "-o",
    temp,
    ...sources,
    `${here}tsr_build_info.c`,
  ],
}).output();
if (!r.success) {
  console.error(new TextDecoder().decode(r.stderr));
  await Deno.remove(temp).catch(() => {});
  console.error("native kernels: the build failed");
  Deno.exit(1);
}
await Deno.rename(temp, output);
await Deno.remove(`${output}.source-sha256`).catch(() => {}); // the stamp file of earlier builds
console.log(`native kernels: built ${output} with ${cc}`);

/** The source digest a built library answers, or undefined if it answers none (an older build). */
function builtFrom(path: string): string | undefined {
  try {
    const lib = Deno.dlopen(path, { tsr_source_sha256: { parameters: [], result: "pointer" } });
    try {
      return Deno.UnsafePointerView.getCString(lib.symbols.tsr_source_sha256()!);
    } finally {
      lib.close();
    }
  } catch {
    return undefined;
  }
}
