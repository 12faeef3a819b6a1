/**
 * Paths of the pages and of the API calls the page scripts make, written once for the server's
 * views and the scripts. Browser-safe.
 * @module
 */

/** The path of the model page of `org/name` at `revision` (null: the default branch). */
export function modelHref(org: string, name: string, revision?: string | null): string {
  const base = `/${org}/${name}`;
  return revision ? `${base}?revision=${encodeURIComponent(revision)}` : base;
}

/**
 * The path of the tensor view of tensor `tensor` of `file`; `withFile` names the file, which is
 * needed when several files of the revision hold a tensor of that name.
 */
export function tensorHref(
  org: string,
  name: string,
  revision: string | null,
  tensor: { readonly name: string; readonly file: string },
  withFile = false,
): string {
  const q = new URLSearchParams();
  if (revision) q.set("revision", revision);
  if (withFile) q.set("file", tensor.file);
  const s = q.toString();
  return `/${org}/${name}/tensors/${encodeURIComponent(tensor.name)}${s ? `?${s}` : ""}`;
}

/** The tile API URL of rows `[r0, r1)` and columns `[c0, c1)` of a tensor at commit `commit`. */
export function tileApiUrl(
  org: string,
  name: string,
  commit: string,
  tensor: { readonly name: string; readonly file: string },
  rect: readonly [number, number, number, number],
): string {
  const q = new URLSearchParams({
    revision: commit,
    file: tensor.file,
    rows: `${rect[0]}:${rect[1]}`,
    cols: `${rect[2]}:${rect[3]}`,
  });
  return `/v1/models/${org}/${name}/tensors/${encodeURIComponent(tensor.name)}?${q}`;
}
