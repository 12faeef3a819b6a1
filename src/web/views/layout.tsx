/**
 * The page shell every page shares: head (viewport, colour scheme, stylesheet), the site header
 * with its navigation, a skip link, the main landmark, and the page's data and script.
 * @module
 */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";

/** Versioned URLs of what a page loads. */
export interface PageAssets {
  /** The stylesheet. */
  readonly css: string;
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

/** Properties of {@link Layout}. */
export interface LayoutProps {
  /** The document title. */
  readonly title: string;
  /** Asset URLs. */
  readonly assets: PageAssets;
  /** Data for the page script, embedded as JSON (`#page-data`). */
  readonly data?: unknown;
  /**
   * Data the page script fetches at once (JSON), requested while the page is parsed so that it
   * arrives with the script rather than after it.
   */
  readonly preload?: string;
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
        <link rel="stylesheet" href={p.assets.css} />
        <link rel="icon" href={p.assets.icon} type="image/svg+xml" />
        {p.preload && <link rel="preload" href={p.preload} as="fetch" crossorigin="anonymous" />}
        {p.assets.script && <script type="module" src={p.assets.script}></script>}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="site">
          <a class="brand" href="/">
            <img src={p.assets.icon} alt="" width="20" height="20" />
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
