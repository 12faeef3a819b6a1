/**
 * The HTML page for an error: what a browser shows instead of the JSON error body.
 * @module
 */
import { Layout, type PageAssets } from "./layout.tsx";

const TITLES: Record<number, string> = {
  400: "Bad request",
  404: "Not found",
  405: "Method not allowed",
  413: "Too large",
  500: "Server error",
  503: "Unavailable",
};

/** An error page. */
export function ErrorView(
  p: { assets: PageAssets; status: number; kind: string; message: string },
) {
  const title = TITLES[p.status] ?? `Error ${p.status}`;
  return (
    <Layout title={`${title} · Tessera`} assets={p.assets}>
      <h1>{title}</h1>
      <div class="error-box" role="alert">
        <p>
          <strong>{p.status}</strong> <code>{p.kind}</code>
        </p>
        <p>{p.message}</p>
      </div>
      <p>
        <a href="/">All models</a>
      </p>
    </Layout>
  );
}
