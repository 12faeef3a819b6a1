/**
 * Skipping a test with a reason: `skipIf(reason, name)` returns the `ignore` flag for
 * `Deno.test` and, when it skips, prints `SKIPPED <name>: <reason>`, which `.ci/run` counts and
 * repeats, so a skipped test is never silent.
 * @module
 */

/**
 * `true` (skip) when `reason` is a string, after printing it; `false` when it is null or false.
 *
 * @example
 * ```ts
 * Deno.test({
 *   name: "shared data: …",
 *   ignore: skipIf(files.length === 0 && "../shared/data holds no .safetensors file", "shared data: …"),
 *   fn() {},
 * });
 * ```
 */
export function skipIf(reason: string | false | null, name: string): boolean {
  if (!reason) return false;
  console.log(`SKIPPED ${name}: ${reason}`);
  return true;
}
