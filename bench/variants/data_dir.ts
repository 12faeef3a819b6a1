/**
 * Where the shared real-weights files are: `$TESSERA_DATA`, else `../shared/data` beside the
 * repository (as CI lays it out).
 * @module
 */

/** The shared data folder, as a path ending in `/`. */
export function dataDir(): string {
  const env = Deno.env.get("TESSERA_DATA");
  if (env) return env.endsWith("/") ? env : `${env}/`;
  return new URL("../../../shared/data/", import.meta.url).pathname;
}

/** Whether `path` exists. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
