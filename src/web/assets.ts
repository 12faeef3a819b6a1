/**
 * The pages' static files, served by the hub from its own origin (it must work offline, with no
 * CDN): the stylesheet, the page scripts bundled from `client/` (`deno task web:build`), the
 * charting library inside them, and the WebAssembly kernels the download panel decodes with.
 * Each file is read once and named in pages by a URL carrying its content hash, so browsers may
 * keep it for a year; a request without the current hash is revalidated by ETag.
 * @module
 */

/** A file the hub serves to pages. */
export interface Asset {
  /** Its bytes. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Media type. */
  readonly type: string;
  /** The first 16 hex digits of its SHA-256: its version in URLs and its ETag. */
  readonly hash: string;
}

/** Where each asset's bytes come from, by the name pages use. */
export const ASSET_FILES: Readonly<Record<string, URL>> = {
  "app.css": new URL("./assets/app.css", import.meta.url),
  // The icon is a PNG (32 px, drawn from assets/favicon.svg, the same drawing as the header's
  // logo): Chromium made an SVG icon a document of its own on the page's main thread (8-13 ms in
  // traces), often between the model page's script and the frame that shows its table usable.
  "favicon.png": new URL("./assets/favicon.png", import.meta.url),
  "home.js": new URL("./assets/home.js", import.meta.url),
  "model.js": new URL("./assets/model.js", import.meta.url),
  "model_charts.js": new URL("./assets/model_charts.js", import.meta.url),
  "tensor.js": new URL("./assets/tensor.js", import.meta.url),
  "status.js": new URL("./assets/status.js", import.meta.url),
  "download.js": new URL("./assets/download.js", import.meta.url),
  "tsr_kernel.wasm": new URL("../../native/wasm/tsr_kernel.wasm", import.meta.url),
};

const TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  wasm: "application/wasm",
};

/** The assets, read and hashed on first use. */
export interface AssetStore {
  /** The asset `name`, or null when there is none. */
  get(name: string): Promise<Asset | null>;
  /** The versioned URL of asset `name`. */
  url(name: string): Promise<string>;
}

/** The path under which assets are served; no org name can start with `-`. */
export const ASSET_PREFIX = "/-/assets/";

/**
 * Creates the store over {@link ASSET_FILES}.
 *
 * @example
 * ```ts ignore
 * const assets = createAssetStore();
 * await assets.url("app.css"); // "/-/assets/app.css?v=0123456789abcdef"
 * ```
 */
export function createAssetStore(files = ASSET_FILES): AssetStore {
  const cache = new Map<string, Promise<Asset | null>>();
  const get = (name: string) => {
    if (!Object.hasOwn(files, name)) return Promise.resolve(null);
    let p = cache.get(name);
    if (!p) {
      p = (async () => {
        const bytes = await Deno.readFile(files[name]);
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        const hash = [...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(
          "",
        );
        return { bytes, type: TYPES[name.slice(name.lastIndexOf(".") + 1)], hash };
      })();
      cache.set(name, p);
      p.catch(() => cache.delete(name));
    }
    return p;
  };
  return {
    get,
    async url(name) {
      const a = await get(name);
      if (!a) throw new Error(`no asset ${name}`);
      return `${ASSET_PREFIX}${name}?v=${a.hash}`;
    },
  };
}
