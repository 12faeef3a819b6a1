/**
 * Settings shared by the codec bench's modules: chunk size, modes, units, paths.
 * @module
 */

/** The chunk size the bench packs and bounds with. */
export const CHUNK_BYTES = 256 * 1024;
/** The modes measured, in order. */
export const MODES = ["fast", "best"] as const;
/** One of {@link MODES}. */
export type BenchMode = typeof MODES[number];
/** 10^6 bytes, as zstd reports speeds. */
export const MB = 1e6;
/** 2^20 bytes, for memory. */
export const MIB = 1024 * 1024;
/** The repository root. */
export const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");
/** Where workers run from: a snapshot of the code, so that edits during the run change nothing. */
export const workerHome = { dir: REPO };
/** Where results JSON goes. */
export const RESULTS_DIR = `${REPO}/bench/results`;

/** A file name without its directory and `.safetensors`. */
export function stem(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return base.endsWith(".safetensors") ? base.slice(0, -".safetensors".length) : base;
}
