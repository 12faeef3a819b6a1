/// <reference lib="dom" />
/**
 * Headless Chromium for the page tests and the screenshots: Debian's `chromium` driven by
 * playwright-core, started with the flags this machine needs (no sandbox as root, no GPU, no
 * background networking, which a closed network refuses) and a fresh profile per launch. A page
 * opened here records console errors, uncaught exceptions and failed requests.
 * @module
 */
import { type Browser, chromium, type Page } from "playwright-core";

/** Where Debian installs Chromium. */
export const CHROMIUM = Deno.env.get("TESSERA_CHROMIUM") ?? "/usr/bin/chromium";

/** Why browser tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  try {
    Deno.statSync(CHROMIUM);
    return null;
  } catch {
    return `${CHROMIUM} is not installed (.ci/run installs Debian's chromium)`;
  }
}

/** Launches Chromium; close it when done. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** A page and what went wrong on it. */
export interface WatchedPage {
  /** The page. */
  readonly page: Page;
  /** Console errors and uncaught exceptions. */
  readonly errors: string[];
  /** Requests that failed or were answered with 4xx/5xx. */
  readonly failed: string[];
}

/** Opens a page in a new context (its own cache and storage) that records problems. */
export async function watchedPage(
  browser: Browser,
  options: { width?: number; height?: number; dark?: boolean } = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    colorScheme: options.dark ? "dark" : "light",
    acceptDownloads: true,
  });
  const page = await context.newPage();
  const errors: string[] = [], failed: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`exception: ${e.message}`));
  page.on(
    "requestfailed",
    (r) => failed.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`),
  );
  page.on("response", (r) => {
    if (r.status() >= 400) failed.push(`${r.request().method()} ${r.url()}: HTTP ${r.status()}`);
  });
  return { page, errors, failed };
}

/** How many pixels of each canvas and svg under `selector` are drawn (not transparent). */
export function drawnPixels(page: Page, selector: string): Promise<number[]> {
  return page.$$eval(selector, (els) =>
    els.map((el) => {
      if (el instanceof HTMLCanvasElement) {
        const ctx = el.getContext("2d");
        if (!ctx || el.width === 0 || el.height === 0) return 0;
        const px = ctx.getImageData(0, 0, el.width, el.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
        return n;
      }
      return el.querySelectorAll("rect, path, circle, line, polyline").length;
    }));
}
