/**
 * RFC 9110 §14 byte ranges: parses a `Range` header against a representation's length.
 *
 * Policy, relied on by every Tessera endpoint:
 * - Only the `bytes` unit is understood; any other unit, or a syntactically invalid header, is
 *   ignored and the full representation is sent (200), as RFC 9110 §14.2 requires.
 * - Satisfiable ranges are sorted and coalesced when they overlap or touch, so a response never
 *   repeats a byte.
 * - At most {@link MAX_RANGES} ranges remain after coalescing; a request for more is treated as
 *   abusive and answered with the full representation (200), as nginx and Apache do.
 * - When no range overlaps the representation the answer is 416 with `Content-Range: bytes *\/len`.
 * - Numbers are read as digits: leading zeros are valid, and a position past 2^53 - 1 lies past the
 *   end of every representation (a first-pos there is unsatisfiable, a last-pos means "to the end").
 * @module
 */

/** A half-open byte range `[start, end)` with `start < end`. */
export interface ByteRange {
  /** First byte offset. */
  readonly start: number;
  /** One past the last byte offset. */
  readonly end: number;
}

/** What a `Range` header asks of a representation. */
export type RangeRequest =
  /** No range applies: send the whole representation (no header, malformed, or over the limit). */
  | { readonly kind: "full" }
  /** One or more satisfiable, sorted, non-overlapping ranges. */
  | { readonly kind: "ranges"; readonly ranges: readonly ByteRange[] }
  /** Every range lies outside the representation: 416. */
  | { readonly kind: "unsatisfiable" };

/** Most ranges served in one response after coalescing; more and the full body is sent. */
export const MAX_RANGES = 16;

/** Longest `Range` header read; a longer one is ignored as malformed. */
export const MAX_RANGE_HEADER = 4096;

const SPEC = /^(\d*)\s*-\s*(\d*)$/;

/** `digits` (1*DIGIT) without its leading zeros, "0" for zero. */
function significant(digits: string): string {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 0x30) i++;
  return digits.slice(i);
}

/**
 * The value of `digits`, any number of leading zeros allowed (RFC 9110 §14.1.1: `1*DIGIT`). A
 * value past 2^53 - 1 cannot address a real representation: it is Infinity, past every end.
 */
function toNumber(digits: string): number {
  const s = significant(digits);
  if (s.length > 16) return Infinity;
  const n = Number(s);
  return n > Number.MAX_SAFE_INTEGER ? Infinity : n;
}

/** Whether the number `a` is below `b`, exactly, however many digits either has. */
function below(a: string, b: string): boolean {
  const x = significant(a), y = significant(b);
  return x.length !== y.length ? x.length < y.length : x < y;
}

/**
 * Parses `header` for a representation of `size` bytes.
 *
 * @example
 * ```ts
 * parseRange("bytes=0-9,5-19,-5", 100);
 * // { kind: "ranges", ranges: [{ start: 0, end: 20 }, { start: 95, end: 100 }] }
 * ```
 */
export function parseRange(
  header: string | null | undefined,
  size: number,
  maxRanges = MAX_RANGES,
): RangeRequest {
  if (header == null || header.length > MAX_RANGE_HEADER) return { kind: "full" };
  const eq = header.indexOf("=");
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== "bytes") return { kind: "full" };
  const wanted: ByteRange[] = [];
  let specs = 0;
  for (const raw of header.slice(eq + 1).split(",")) {
    const spec = raw.trim();
    if (spec === "") continue; // RFC 9110 §5.6.1: empty list elements are ignored
    specs++;
    const m = SPEC.exec(spec);
    if (!m || (m[1] === "" && m[2] === "")) return { kind: "full" };
    if (m[1] === "") {
      const suffix = toNumber(m[2]);
      if (suffix > 0 && size > 0) wanted.push({ start: Math.max(0, size - suffix), end: size });
      continue;
    }
    if (m[2] !== "" && below(m[2], m[1])) return { kind: "full" };
    const first = toNumber(m[1]);
    const last = m[2] === "" ? Infinity : toNumber(m[2]);
    if (first < size) wanted.push({ start: first, end: Math.min(size, last + 1) });
  }
  if (specs === 0) return { kind: "full" };
  if (wanted.length === 0) return { kind: "unsatisfiable" };
  const ranges = coalesce(wanted);
  if (ranges.length > maxRanges) return { kind: "full" };
  return { kind: "ranges", ranges };
}

/** Sorts ranges and merges those that overlap or touch. */
export function coalesce(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) {
      if (r.end > last.end) out[out.length - 1] = { start: last.start, end: r.end };
    } else {
      out.push(r);
    }
  }
  return out;
}

/** The `Content-Range` value of `range` within a representation of `size` bytes. */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end - 1}/${size}`;
}
