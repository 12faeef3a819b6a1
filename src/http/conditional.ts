/**
 * RFC 9110 §13 conditional requests against entity tags: `If-None-Match` and `If-Range` on reads,
 * `If-Match` and `If-None-Match` on writes. Tessera's entity tags are always strong content hashes.
 * @module
 */

const TAG = /\s*(W\/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)/y;

/** The entity tags listed in an `If-None-Match` value; `"*"` alone means any. */
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

/**
 * Whether `If-None-Match` matches `etag` (weak comparison, §13.1.2): a GET or HEAD that matches is
 * answered 304.
 *
 * @example
 * ```ts
 * ifNoneMatch('W/"abc", "def"', '"abc"'); // true
 * ```
 */
export function ifNoneMatch(header: string | null, etag: string): boolean {
  if (header === null) return false;
  const list = parseEtagList(header);
  return list.any || list.tags.some((t) => t.tag === etag);
}

/**
 * Whether a `Range` may be honoured given `If-Range` (§13.1.5): only a strong entity tag equal to
 * the current one qualifies. Dates are never trusted, because Tessera validators are hashes.
 */
export function ifRange(header: string | null, etag: string): boolean {
  if (header === null) return true;
  const v = header.trim();
  return v.startsWith('"') && v === etag;
}

/**
 * Whether a state-changing request may proceed given its `If-Match` and `If-None-Match` (§13.1.1,
 * §13.1.2, in the order of §13.2.2) and the target's current entity tag, null when it does not
 * exist. `If-Match` compares strongly and `*` needs the target to exist; `If-None-Match: *` needs
 * it not to, as a create-only upload does.
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
  if (ifMatch !== null) {
    const list = parseEtagList(ifMatch);
    if (current === null) return false;
    if (!list.any && !list.tags.some((t) => !t.weak && t.tag === current)) return false;
  }
  if (ifNoneMatch !== null && current !== null) {
    const list = parseEtagList(ifNoneMatch);
    if (list.any || list.tags.some((t) => t.tag === current)) return false;
  }
  return true;
}
