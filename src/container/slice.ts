/**
 * Parses `a:b` slice syntax into half-open ranges checked against a dimension.
 * @module
 */
import { ContainerError } from "./errors.ts";

/** The grammar every slice follows exactly; error messages quote it. */
export const SLICE_GRAMMAR = 'index | [index] ":" [index], where index = [-]digits';

// Exactly the grammar: no whitespace, no sign but "-", no step.
const SLICE = /^(-?\d+)?(:(-?\d+)?)?$/;

/**
 * Parses `a:b`, `a:`, `:b`, `:` or a lone index `a` ({@link SLICE_GRAMMAR}, nothing around it)
 * against a dimension of `size`; negative bounds count from the end, as in Python. Returns
 * `[start, end)` with `start <= end`.
 *
 * @example
 * ```ts
 * parseSlice("-3:", 10); // [7, 10]
 * parseSlice("0-5", 10); // throws ContainerError bad_slice
 * ```
 */
export function parseSlice(text: string, size: number, what = "slice"): [number, number] {
  const m = SLICE.exec(text);
  if (!m || (m[1] === undefined && m[2] === undefined)) {
    throw new ContainerError(
      "bad_slice",
      `${what} must match ${SLICE_GRAMMAR} (a:b, a:, :b, : or a); received ${JSON.stringify(text)}`,
    );
  }
  const resolve = (v: string | undefined, fallback: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    return n < 0 ? size + n : n;
  };
  const start = resolve(m[1], 0);
  const end = m[2] === undefined ? start + 1 : resolve(m[3], size);
  if (
    !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end > size ||
    start > end
  ) {
    throw new ContainerError(
      "bad_slice",
      `${what} "${text}" must lie within 0..${size} with start <= end; resolves to ${start}:${end}`,
    );
  }
  return [start, end];
}
