/**
 * The page shell every page shares: head (viewport, colour scheme, stylesheet), the site header
 * with its navigation, a skip link, the main landmark, and the page's data and script.
 * @module
 */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";

/** Versioned URLs of what a page loads. */
export interface PageAssets {
  /** The stylesheet's URL. */
  readonly css: string;
  /**
   * The stylesheet's text, placed in the page's head when given (else the page links to
   * {@link PageAssets.css}). Linked, the stylesheet was a request that every first frame waited
   * for: in Chromium traces of the model page the first style and layout began within 1-5 ms of
   * its arrival, 6-20 ms after the first part of the HTML was parsed. Inline (without comments) it
   * costs 9.5 KB of each page and no request.
   */
  readonly styles?: string;
  /** The icon. */
  readonly icon: string;
  /** The page's script, if it has one. */
  readonly script?: string;
}

/** JSON safe to place inside a `<script>` element: `<` never appears as itself. */
export function scriptJson(data: unknown): string {
  return JSON.stringify(data).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * The site's logo (the icon's drawing) inline in the header. As an `<img>` of the icon file it
 * cost each first visit a request and an SVG document of its own in the renderer (5-11 ms of the
 * model page's main-thread CPU before its first frame, in Chromium traces).
 */
const LOGO_SVG =
  '<svg class="logo" viewBox="0 0 16 16" width="20" height="20" aria-hidden="true">' +
  '<rect width="16" height="16" rx="3" fill="#2459c7"/>' +
  '<path d="M3 3h4v4H3zM9 3h4v4H9zM3 9h4v4H3z" fill="#fff"/><path d="M9 9h4v4H9z" fill="#9cc2ff"/>' +
  "</svg>";

/**
 * The body of an inline module script that imports the page script `script` and the JSON at
 * `json` (as a JSON module) and calls the script's `start` export with that JSON. Both are
 * preloaded from the head (`<link rel="modulepreload">`, the JSON `as="json"`: one request each,
 * which the module's imports reuse), and the module runs once the page is parsed, like any module
 * script, with the JSON already parsed: nothing waits for a later task.
 *
 * Why: the model page used to preload its rows (`<link rel="preload" as="fetch">`) and fetch them
 * in its script; they arrived in time, but `fetch().json()` resolved tasks after the browser had
 * rendered the first frame, so the table became usable only a frame later (see
 * `src/web/client/model.ts`). If the JSON cannot be fetched the module does not run, and the page
 * keeps what works without a script: its links.
 */
export function startWith(script: string, json: string): string {
  const s = (u: string) => scriptJson(u);
  return `import data from ${s(json)} with { type: "json" };` +
    `import { start } from ${s(script)};start(data);`;
}

/** Properties of {@link Layout}. */
export interface LayoutProps {
  /** The document title. */
  readonly title: string;
  /** Asset URLs. */
  readonly assets: PageAssets;
  /** Data for the page script, embedded as JSON (`#page-data`). */
  readonly data?: unknown;
  /**
   * JSON the page script needs at once. The page then starts its script with an inline module
   * that imports both, the JSON as a JSON module, and calls the script's `start` export with it
   * (see {@link startWith}); without it the script is loaded as a module of its own.
   */
  readonly startWith?: string;
  /** Which navigation entry is the current page. */
  readonly current?: "models" | "status";
  /** The page's content. */
  readonly children?: Child;
}

/** The page shell. */
export function Layout(p: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{p.title}</title>
        {
          /* The page script and its JSON, asked for as soon as the head arrives (the preload
          scanner reads these; the inline module's imports were only asked for once the parser had
          compiled it, which on the model page came after its first frame: 60-100 ms later). */
        }
        {p.assets.script && p.startWith && (
          <>
            <link rel="modulepreload" href={p.assets.script} />
            <link rel="modulepreload" href={p.startWith} as="json" />
          </>
        )}
        {p.assets.styles !== undefined
          ? <style>{raw(p.assets.styles)}</style>
          : <link rel="stylesheet" href={p.assets.css} />}
        <link rel="icon" href={p.assets.icon} type="image/png" />
        {p.assets.script && (p.startWith
          ? <script type="module">{raw(startWith(p.assets.script, p.startWith))}</script>
          : <script type="module" src={p.assets.script}></script>)}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="site">
          <a class="brand" href="/">
            {raw(LOGO_SVG)}
            Tessera
          </a>
          <nav aria-label="Site">
            <a href="/" aria-current={p.current === "models" ? "page" : undefined}>Models</a>
            <a href="/status" aria-current={p.current === "status" ? "page" : undefined}>
              Status
            </a>
            <a href="/openapi.json">API</a>
          </nav>
        </header>
        <main id="main">{p.children}</main>
        <footer class="site">
          Tessera: lossless, tiled model storage. Every byte served has passed its checksum.
        </footer>
        {p.data !== undefined && (
          <script type="application/json" id="page-data">{raw(scriptJson(p.data))}</script>
        )}
      </body>
    </html>
  );
}

/** A labelled figure of a definition list of facts. */
export function Facts(p: { readonly items: readonly [string, Child][]; readonly label: string }) {
  return (
    <ul class="facts" aria-label={p.label}>
      {p.items.map(([k, v]) => (
        <li>
          <span class="k">{k}</span>
          <span class="v">{v}</span>
        </li>
      ))}
    </ul>
  );
}

/** Renders a page element as a complete HTML document. */
export function documentHtml(page: unknown): string {
  return `<!doctype html>${String(page)}`;
}
