/// <reference lib="dom" />
/**
 * The model list's script: filters the rows as one types (the form still works without it).
 * @module
 */
import { byId, debounce } from "./dom.ts";

const input = byId<HTMLInputElement>("model-search");
const rows = [...byId<HTMLTableElement>("models").tBodies[0].rows];
const count = byId("model-count");
const total = rows.length;

const apply = () => {
  const terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const r of rows) {
    const hay = r.dataset.search ?? "";
    const match = terms.every((t) => hay.includes(t));
    r.hidden = !match;
    if (match) shown++;
  }
  count.textContent = terms.length
    ? `${shown} of ${total} models match “${input.value.trim()}”`
    : `${total} models`;
  const q = new URLSearchParams(location.search);
  if (input.value) q.set("q", input.value);
  else q.delete("q");
  const s = q.toString();
  history.replaceState(null, "", `${location.pathname}${s ? `?${s}` : ""}`);
};
input.addEventListener("input", debounce(apply, 60));
input.form?.addEventListener("submit", (e: Event) => {
  e.preventDefault();
  apply();
});
