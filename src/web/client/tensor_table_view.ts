/// <reference lib="dom" />
/**
 * The model page's tensor table in the browser: filtering as one types, sorting by a header,
 * paging, all without a round trip, from the rows the server embedded. It renders from the same
 * module as the server (`shared/tensor_table.ts`), so both show the same rows and text, and it
 * keeps the query in the URL, so a reload or a shared link shows the same view.
 * @module
 */
import {
  COLUMNS,
  parseTableQuery,
  tablePage,
  type TableQuery,
  tensorCells,
  type TensorRow,
  writeTableQuery,
} from "../shared/tensor_table.ts";
import { formatCount } from "../shared/format.ts";
import { byId, debounce, h } from "./dom.ts";

/**
 * Wires the server-rendered table to the rows `rows()` returns, called when the table is first
 * used (the server already rendered the view the URL asks for, so nothing is parsed before);
 * `href` gives a row's tensor view.
 */
export function enhanceTensorTable(
  rows: () => readonly TensorRow[],
  href: (r: TensorRow) => string,
): void {
  const table = byId<HTMLTableElement>("tensor-table");
  const tbody = table.tBodies[0];
  const count = byId("tensor-count");
  const pager = byId("tensor-pager");
  const input = byId<HTMLInputElement>("tensor-q");
  const form = byId<HTMLFormElement>("tensor-filter");
  const headers = [...table.tHead!.rows[0].cells];
  let query: TableQuery = parseTableQuery(new URLSearchParams(location.search));

  const render = (focusPager = false) => {
    const all = rows();
    const page = tablePage(all, query);
    query = { ...query, page: page.page };
    const frag = document.createDocumentFragment();
    for (const r of page.rows) {
      const tr = h("tr");
      tensorCells(r, href).forEach((c, i) => {
        const td = h("td", {
          class: c.numeric ? "num" : i === 0 ? "name" : undefined,
          title: c.title,
        });
        if (c.href) td.append(h("a", { href: c.href }, c.text));
        else if (i === 8) td.append(h("code", {}, c.text));
        else td.textContent = c.text;
        tr.append(td);
      });
      frag.append(tr);
    }
    tbody.replaceChildren(frag);
    count.textContent =
      (page.matching === all.length
        ? `${formatCount(all.length)} tensors`
        : `${formatCount(page.matching)} of ${formatCount(all.length)} tensors match`) +
      (page.matching > 0
        ? ` · showing ${formatCount(page.first + 1)}–${formatCount(page.first + page.rows.length)}`
        : "");
    headers.forEach((th, i) => {
      const key = COLUMNS[i].sort;
      if (key && query.sort === key) {
        th.setAttribute("aria-sort", query.dir === "asc" ? "ascending" : "descending");
      } else th.removeAttribute("aria-sort");
    });
    const nav = (label: string, to: number | null, rel: string) =>
      to === null
        ? h("span", { class: "muted" }, label)
        : Object.assign(h("button", { type: "button", rel, "data-page": String(to) }, label), {
          onclick: () => {
            query = { ...query, page: to };
            update(true);
          },
        });
    pager.replaceChildren(
      nav("← Previous", page.page > 1 ? page.page - 1 : null, "prev"),
      h("span", {}, `Page ${page.page} of ${page.pages}`),
      nav("Next →", page.page < page.pages ? page.page + 1 : null, "next"),
    );
    if (focusPager) (pager.querySelector("button") as HTMLElement | null)?.focus();
  };

  const update = (focusPager = false) => {
    render(focusPager);
    const params = writeTableQuery(new URLSearchParams(location.search), query);
    const s = params.toString();
    history.replaceState(null, "", `${location.pathname}${s ? `?${s}` : ""}${location.hash}`);
  };

  // Sort links become buttons: the same control, without leaving the page.
  headers.forEach((th, i) => {
    const key = COLUMNS[i].sort;
    const a = th.querySelector("a.sort");
    if (!key || !a) return;
    const button = h("button", { type: "button", class: "sort" }, COLUMNS[i].label);
    button.append(h("span", { class: "arrow", "aria-hidden": "true" }));
    button.addEventListener("click", () => {
      query = {
        ...query,
        sort: key,
        dir: query.sort === key && query.dir === "asc" ? "desc" : "asc",
        page: 1,
      };
      update();
    });
    a.replaceWith(button);
  });
  // The server's pager links work without a script; with one they page in place.
  pager.addEventListener("click", (e) => {
    const a = (e.target as Element).closest("a[href]");
    if (!a) return;
    e.preventDefault();
    query = {
      ...query,
      page: parseTableQuery(new URL(a.getAttribute("href")!, location.href).searchParams).page,
    };
    update(true);
  });
  const filter = debounce(() => {
    query = { ...query, q: input.value, page: 1 };
    update();
  }, 80);
  input.addEventListener("input", filter);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    query = { ...query, q: input.value, page: 1 };
    update();
  });
}
