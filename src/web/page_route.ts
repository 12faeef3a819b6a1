/**
 * Routes of the web pages and their assets: the HTML counterpart of `src/server/openapi.ts`'s
 * route definitions. Pages are not part of the JSON API, so they stay out of the OpenAPI document;
 * {@link mountPages} registers them after the API (whose paths are more specific), and the route
 * list test reads the same list to tell pages from undocumented routes, so nothing is listed
 * twice.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { errorAnswer } from "../server/error_response.ts";
import type { AppContext, AppEnv, ServerContext } from "../server/context.ts";
import { honoPath } from "../server/openapi.ts";

/** One page (or asset) route: GET and HEAD only. */
export interface PageRoute {
  /** Path, OpenAPI style: `/{org}/{name}`. */
  readonly path: string;
  /** The last path parameter, when it captures the rest of the path (slashes included). */
  readonly rest?: string;
  /** What it shows, in one line. */
  readonly summary: string;
  /** Answers a request; `params` are the decoded path parameters. */
  readonly handler: (c: AppContext, params: Record<string, string>) => Promise<Response>;
}

/** Renders the HTML page for an error a page handler threw. */
export type ErrorPage = (c: AppContext, status: number, kind: string, message: string) => string;

/** Response headers of every page: HTML, revalidated on each visit (branches move). */
export function pageHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    ...extra,
  };
}

/**
 * Registers `pages` on `app` (after the API routes): each answers GET (and HEAD), and an error it
 * throws becomes an HTML page with the status the JSON API would give.
 */
export function mountPages(
  app: OpenAPIHono<AppEnv>,
  ctx: ServerContext,
  pages: readonly PageRoute[],
  errorPage: ErrorPage,
): void {
  for (const p of pages) {
    app.get(honoPath(p), async (c) => {
      try {
        const raw = new URL(c.req.url).pathname;
        try {
          decodeURIComponent(raw);
        } catch {
          return html(c, 400, errorPage(c, 400, "bad_path", `malformed percent-encoding: ${raw}`));
        }
        return await p.handler(c, c.req.param() as Record<string, string>);
      } catch (e) {
        const a = errorAnswer(e);
        if (a.fault) {
          ctx.log(
            `ERROR ${c.req.method} ${new URL(c.req.url).pathname}: ${(e as Error)?.stack ?? e}`,
          );
        }
        return html(c, a.status, errorPage(c, a.status, a.kind, a.message));
      }
    });
  }
}

function html(c: AppContext, status: number, body: string): Response {
  return new Response(c.req.method === "HEAD" ? null : body, {
    status,
    headers: pageHeaders(),
  });
}

/** Whether a request prefers HTML (a browser navigating) to JSON. */
export function prefersHtml(req: Request): boolean {
  const accept = req.headers.get("Accept") ?? "";
  return /\btext\/html\b/.test(accept) && !/\bapplication\/json\b/.test(accept);
}
