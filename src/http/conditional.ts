/**
 * RFC 9110 §13 conditional requests, evaluated in the order of §13.2.2 on every method:
 * `If-Match`, `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since`, then `If-Range`.
 *
 * - `If-Match` compares strongly (§13.1.1); `*` needs a current representation. False: 412.
 * - `If-Unmodified-Since` (§13.1.4) is ignored when `If-Match` is present, when it is not one valid
 *   HTTP-date, or when the target has no modification date. False: 412.
 * - `If-None-Match` compares weakly (§13.1.2); `*` matches any current representation. False: 304
 *   on GET and HEAD, 412 on any other method.
 * - `If-Modified-Since` (§13.1.3) applies to GET and HEAD only, and is ignored when `If-None-Match`
 *   is present, when it is not one valid HTTP-date, when that date is in the future, or without a
 *   modification date. False: 304.
 * - `If-Range` (§13.1.5): the Range is honoured only for a strong entity tag equal to the current
 *   one, or an HTTP-date exactly equal to a modification date.
 *
 * Tessera's entity tags are always strong content hashes. Repo files carry their commit's date as
 * `Last-Modified`; decoded representations (tensors, tiles, layers) have none, and there the date
 * conditions are ignored as §13.1.3-4 allow.
 * @module
 */

const TAG = /\s*(W\/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)/y;

/** The state of a target resource that preconditions are evaluated against. */
export interface Validators {
  /** The selected representation's strong entity tag, quoted; null when there is none. */
  readonly etag: string | null;
  /** Its modification date in milliseconds since the epoch (whole seconds), when it has one. */
  readonly lastModified?: number;
}

/** The precondition headers of a request; absent headers are null or undefined. */
export interface Preconditions {
  /** `If-Match`. */
  readonly ifMatch?: string | null;
  /** `If-Unmodified-Since`. */
  readonly ifUnmodifiedSince?: string | null;
  /** `If-None-Match`. */
  readonly ifNoneMatch?: string | null;
  /** `If-Modified-Since`. */
  readonly ifModifiedSince?: string | null;
}

/** What evaluating the preconditions of §13.2.2 steps 1-4 decides. */
export type PreconditionVerdict =
  /** Every precondition holds (or none applies): perform the method. */
  | "proceed"
  /** A GET or HEAD whose cached copy is current: 304. */
  | "not_modified"
  /** 412 Precondition Failed. */
  | "failed";

/** The entity tags listed in an `If-Match` or `If-None-Match` value; `"*"` alone means any. */
export function parseEtagList(
  value: string,
): { any: boolean; tags: { weak: boolean; tag: string }[] } {
  if (value.trim() === "*") return { any: true, tags: [] };
  const tags: { weak: boolean; tag: string }[] = [];
  TAG.lastIndex = 0;
  while (TAG.lastIndex < value.length) {
    const start = TAG.lastIndex;
    const m = TAG.exec(value);
    if (!m) {
      // Skip an unparseable element up to the next comma rather than giving up on the list.
      const comma = value.indexOf(",", start);
      if (comma < 0) break;
      TAG.lastIndex = comma + 1;
      continue;
    }
    tags.push({ weak: m[1] !== undefined, tag: m[2] });
  }
  return { any: false, tags };
}

/** The headers of `headers` that {@link evaluatePreconditions} reads. */
export function preconditionsOf(headers: Headers): Preconditions {
  return {
    ifMatch: headers.get("If-Match"),
    ifUnmodifiedSince: headers.get("If-Unmodified-Since"),
    ifNoneMatch: headers.get("If-None-Match"),
    ifModifiedSince: headers.get("If-Modified-Since"),
  };
}

/**
 * Steps 1-4 of RFC 9110 §13.2.2 for a request of `method` against a target whose current state is
 * `current` (`etag` null when it does not exist). Step 5, `If-Range`, is {@link ifRange}.
 *
 * @example
 * ```ts
 * evaluatePreconditions("GET", { ifMatch: '"stale"' }, { etag: '"abc"' }); // "failed"
 * evaluatePreconditions("GET", { ifNoneMatch: 'W/"abc"' }, { etag: '"abc"' }); // "not_modified"
 * evaluatePreconditions("PUT", { ifNoneMatch: "*" }, { etag: null }); // "proceed"
 * ```
 */
export function evaluatePreconditions(
  method: string,
  p: Preconditions,
  current: Validators,
): PreconditionVerdict {
  const read = method === "GET" || method === "HEAD";
  const date = current.lastModified;
  // 1. If-Match, strong comparison.
  if (p.ifMatch != null) {
    if (!strongMatch(p.ifMatch, current.etag)) return "failed";
  } else if (p.ifUnmodifiedSince != null && date !== undefined) {
    // 2. If-Unmodified-Since, only without If-Match.
    const since = parseHttpDate(p.ifUnmodifiedSince);
    if (since !== null && date > since) return "failed";
  }
  // 3. If-None-Match, weak comparison.
  if (p.ifNoneMatch != null) {
    if (weakMatch(p.ifNoneMatch, current.etag)) return read ? "not_modified" : "failed";
  } else if (read && p.ifModifiedSince != null && date !== undefined) {
    // 4. If-Modified-Since, GET and HEAD only, only without If-None-Match.
    // A date later than the server's current time is invalid (§13.1.3) and ignored.
    const since = parseHttpDate(p.ifModifiedSince);
    if (since !== null && since <= Date.now() && date <= since) return "not_modified";
  }
  return "proceed";
}

function strongMatch(header: string, etag: string | null): boolean {
  if (etag === null) return false;
  const list = parseEtagList(header);
  return list.any || list.tags.some((t) => !t.weak && t.tag === etag);
}

function weakMatch(header: string, etag: string | null): boolean {
  if (etag === null) return false;
  const list = parseEtagList(header);
  return list.any || list.tags.some((t) => t.tag === etag);
}

/**
 * Whether `If-None-Match` matches `etag` (weak comparison, §13.1.2).
 *
 * @example
 * ```ts
 * ifNoneMatch('W/"abc", "def"', '"abc"'); // true
 * ```
 */
export function ifNoneMatch(header: string | null, etag: string): boolean {
  return header !== null && weakMatch(header, etag);
}

/**
 * Whether a `Range` may be honoured given `If-Range` (§13.1.5): a strong entity tag equal to the
 * current one, or an HTTP-date exactly equal to the modification date (which Tessera's hashed
 * representations do not have, so a date never qualifies there). A weak tag never qualifies.
 *
 * @example
 * ```ts
 * ifRange('"abc"', { etag: '"abc"' }); // true
 * ifRange('W/"abc"', { etag: '"abc"' }); // false
 * ```
 */
export function ifRange(header: string | null, current: Validators): boolean {
  if (header === null) return true;
  const v = header.trim();
  if (v.startsWith('"')) return v === current.etag;
  if (v.startsWith("W/")) return false;
  const date = parseHttpDate(v);
  return date !== null && current.lastModified !== undefined && date === current.lastModified;
}

/**
 * Whether a state-changing request may proceed given its `If-Match` and `If-None-Match` and the
 * target's current entity tag, null when it does not exist: {@link evaluatePreconditions} for a
 * write. `If-Match: *` needs the target to exist; `If-None-Match: *` needs it not to, as a
 * create-only upload does.
 *
 * @example
 * ```ts
 * writeAllowed('"abc"', null, '"abc"'); // true: the client saw the current version
 * writeAllowed(null, "*", '"abc"'); // false: it meant to create, but the target exists
 * ```
 */
export function writeAllowed(
  ifMatch: string | null,
  ifNoneMatch: string | null,
  current: string | null,
): boolean {
  return evaluatePreconditions("PUT", { ifMatch, ifNoneMatch }, { etag: current }) === "proceed";
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete rfc850-date and asctime-date a recipient accepts.
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850 = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`,
);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * An HTTP-date (RFC 9110 §5.6.7) in milliseconds since the epoch, or null when `text` is not
 * exactly one valid date (a list of dates is not).
 *
 * @example
 * ```ts
 * parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"); // 784111777000
 * parseHttpDate("yesterday"); // null
 * ```
 */
export function parseHttpDate(text: string): number | null {
  const v = text.trim();
  let day: number, month: number, year: number, h: string, m: string, s: string;
  let x = IMF_FIXDATE.exec(v);
  if (x) {
    [day, month, year, h, m, s] = [
      Number(x[1]),
      MONTHS.indexOf(x[2]),
      Number(x[3]),
      x[4],
      x[5],
      x[6],
    ];
  } else if ((x = RFC850.exec(v))) {
    // §5.6.7: a two-digit year that looks more than 50 years in the future is in the past century.
    const yy = Number(x[3]), now = new Date().getUTCFullYear();
    year = 2000 + yy > now + 50 ? 1900 + yy : 2000 + yy;
    [day, month, h, m, s] = [Number(x[1]), MONTHS.indexOf(x[2]), x[4], x[5], x[6]];
  } else if ((x = ASCTIME.exec(v))) {
    [month, day, h, m, s, year] = [
      MONTHS.indexOf(x[1]),
      Number(x[2]),
      x[3],
      x[4],
      x[5],
      Number(x[6]),
    ];
  } else {
    return null;
  }
  const hours = Number(h), minutes = Number(m), seconds = Number(s);
  if (day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return null;
  // setUTCFullYear, unlike Date.UTC, takes years below 100 as they are.
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(hours, minutes, Math.min(seconds, 59));
  // 31 Feb rolls over into March; such a date is not valid.
  return d.getUTCDate() === day ? d.getTime() : null;
}
