/**
 * Walks the module graph from some entry files and reports what a browser could not load:
 * `Deno.*` in code, `node:` imports, FFI (`dlopen`), and npm packages outside an allowed set.
 * Shared by the tests that keep `codec/`, `src/container/` and the client browser-pure.
 * @module
 */

/** Module specifiers imported or re-exported by `source`, other than type-only imports. */
function importsOf(source: string): string[] {
  const out: string[] = [];
  source = source.replace(/(?:^|\n)\s*(?:import|export)\s+type\b[^;]*;/g, "");
  const re =
    /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of source.matchAll(re)) out.push(m[1] ?? m[2]);
  return out;
}

/** Source with comments removed, so that doc examples do not count. */
function code(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

/** What a walk found. */
export interface BrowserPureReport {
  /** Every module reached (file URLs). */
  readonly seen: Set<string>;
  /** One line per violation: the file and what it uses. */
  readonly problems: string[];
}

/**
 * Follows relative imports (static and dynamic) from `entries` and lists every use of `Deno.*`,
 * `node:`, `dlopen` or a package not in `packages`.
 *
 * @example
 * ```ts
 * const { problems } = await browserPureReport([new URL("../../codec/chunk_decode.ts", import.meta.url)], ["zstddec"]);
 * assert.deepEqual(problems, []);
 * ```
 */
export async function browserPureReport(
  entries: readonly URL[],
  packages: readonly string[],
): Promise<BrowserPureReport> {
  const seen = new Set<string>(), problems: string[] = [];
  const todo = entries.map((u) => u.href);
  while (todo.length > 0) {
    const href = todo.pop()!;
    if (seen.has(href)) continue;
    seen.add(href);
    const source = await Deno.readTextFile(new URL(href));
    const path = new URL(href).pathname.replace(/^.*?\/(src|codec|test)\//, "$1/");
    const body = code(source);
    if (/\bDeno\./.test(body)) problems.push(`${path} uses Deno.*`);
    if (/\bdlopen\b/.test(body)) problems.push(`${path} uses FFI (dlopen)`);
    for (const spec of importsOf(source)) {
      if (spec.startsWith("node:")) problems.push(`${path} imports ${spec}`);
      else if (spec.startsWith(".")) todo.push(new URL(spec, href).href);
      else if (!packages.includes(spec)) problems.push(`${path} imports package ${spec}`);
    }
  }
  return { seen, problems };
}

/** The `.ts` files of a folder and its subfolders, as URLs. */
export function tsFilesUnder(folder: URL): URL[] {
  const out: URL[] = [];
  for (const e of Deno.readDirSync(folder)) {
    if (e.isDirectory) out.push(...tsFilesUnder(new URL(`${e.name}/`, folder)));
    else if (e.name.endsWith(".ts")) out.push(new URL(e.name, folder));
  }
  return out;
}
