/// <reference lib="dom" />
/**
 * Small DOM helpers the page scripts share: the page's embedded data, element lookup that fails
 * loudly, and element creation.
 * @module
 */

/** The JSON the server embedded in the script element `#id` (`page-data` by default). */
export function pageData<T>(id = "page-data"): T {
  const el = document.getElementById(id);
  if (!el?.textContent) throw new Error(`the page has no #${id}`);
  return JSON.parse(el.textContent) as T;
}

/** The element with id `id`; throws when the page has none. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** Creates an element with attributes and children (strings become text). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** Calls `fn` once `ms` have passed without another call. */
export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return (...a: A) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...a), ms);
  };
}

/** Shows the Copy buttons of code snippets and wires them to the clipboard. */
export function wireCopyButtons(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>("button.copy[data-copy]")) {
    const target = document.getElementById(b.dataset.copy!);
    if (!target || !navigator.clipboard) continue;
    b.classList.remove("unwired");
    b.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(target.textContent ?? "");
        b.textContent = "Copied";
      } catch {
        b.textContent = "Copy failed";
      }
      setTimeout(() => (b.textContent = "Copy"), 1500);
    });
  }
}
