/**
 * `deno task native --sanitize`: builds the native library's sources (native/tsr_kernel.c,
 * tsr_sha256.c, tsr_unpack.c) with native/sanitize_driver.c into native/build/sanitize_driver
 * under AddressSanitizer and UndefinedBehaviorSanitizer, every warning an error, and
 * _FORTIFY_SOURCE; test/fuzz/sanitize.ts runs it over the chunk corpus, after the driver's own
 * test of the threaded unpack pipeline.
 * Unlike the normal build, a missing compiler is a failure here: the sanitizer run is a check.
 * @module
 */

/** The compiler flags of the sanitizer build. */
export const SANITIZE_FLAGS: readonly string[] = [
  "-std=c11",
  "-O1",
  "-g",
  "-fno-omit-frame-pointer",
  "-fsanitize=address,undefined",
  "-fno-sanitize-recover=all",
  "-D_FORTIFY_SOURCE=2",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-pthread",
];

/**
 * Builds the driver with `cc` from the library's C `sources` into `outDir`; returns the exit
 * status for the task.
 *
 * @example
 * ```ts
 * Deno.exit(await buildSanitized("gcc", ["native/tsr_kernel.c"], "native/build"));
 * ```
 */
export async function buildSanitized(
  cc: string | null,
  sources: readonly string[],
  outDir: string,
): Promise<number> {
  if (!cc) {
    console.error("sanitizer build: no C compiler (set CC, or install gcc or clang)");
    return 1;
  }
  const driver = new URL("./sanitize_driver.c", import.meta.url).pathname;
  const output = `${outDir}/sanitize_driver`;
  await Deno.mkdir(outDir, { recursive: true });
  const r = await new Deno.Command(cc, {
    args: [...SANITIZE_FLAGS, "-o", output, driver, ...sources],
  }).output();
  const log = new TextDecoder().decode(r.stderr).trim();
  if (!r.success) {
    console.error(log);
    console.error(`sanitizer build: ${cc} failed`);
    return 1;
  }
  console.log(`sanitizer build: ${output} with ${cc} ${SANITIZE_FLAGS.join(" ")}`);
  return 0;
}
