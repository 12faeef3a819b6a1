/**
 * The `zstd -d` command line the bench times, shared by the baseline runs (codec_bench.ts) and the
 * runs taken in turn with each decode (codec_worker.ts), so that both time the same thing.
 * @module
 */

/** `zstd -d -T1 -q -c -- file`: one thread, output to stdout (the caller sends it to /dev/null). */
export function zstdDecompressCommand(file: string): [string, string[]] {
  return ["zstd", ["-d", "-T1", "-q", "-c", "--", file]];
}
