/**
 * Parses `a:b` slice syntax into half-open ranges checked against a dimension.
 * @module
 */
import { ContainerError } from "./errors.ts";

/**
 * Parses `a:b`, `a:`, `:b`, `:` or a lone index `a` against a dimension of `size`; negative
 * bounds count from the end, as in Python. Returns `[start, end)` with `start <= end`.
 */
export function parseSlice(text: string, size: number, what = "slice"): [number, number] {
  const m = /^\s*(-?\d+)?\s*(:)?\s*(-?\d+)?\s*$/.exec(text);
  if (!m || (m[1] === undefined && m[2] === undefined)) {
    throw new ContainerError(
      "bad_slice",
      `${what} must look like a:b, a:, :b or a; received "${text}"`,
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
