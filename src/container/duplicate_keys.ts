/**
 * Finds repeated member names in JSON text that `JSON.parse` has already accepted. `JSON.parse`
 * silently keeps the last of a repeated name, which would let two readers see two different
 * indexes; this scan makes a repeat an error at a fraction of the cost of a second full parser.
 * @module
 */

/** The first member name that repeats within one object of valid JSON `text`, or null. */
export function findDuplicateKey(text: string): string | null {
  // One entry per open container: a Set of names for an object, null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectingKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i + 1;
      i = closingQuote(text, i);
      if (expectingKey) {
        // Escapes can spell one name two ways ("a" and "\u0061"), so compare decoded names.
        const raw = text.slice(start, i);
        const name = raw.includes("\\") ? JSON.parse(`"${raw}"`) as string : raw;
        const names = stack[stack.length - 1]!;
        if (names.has(name)) return name;
        names.add(name);
        expectingKey = false;
      }
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectingKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectingKey = stack[stack.length - 1] != null;
    }
  }
  return null;
}

/**
 * The first member name that repeats within one object of valid JSON `text`, which `JSON.parse`
 * returned as `parsed`, or null. It compares counts first and scans names only on a mismatch:
 * building a set per object costs 4x more on a large index. Without escapes in `text`, a string's
 * text is its value, so the colons in `text` are one per member plus those inside parsed strings;
 * a dropped repeat takes at least its own colon away, so any repeat shows as a smaller sum.
 */
export function repeatedMemberName(text: string, parsed: unknown): string | null {
  const counts = { members: 0, colons: 0 };
  countParsed(parsed, counts);
  const same = text.indexOf("\\") === -1
    ? colonsIn(text) === counts.members + counts.colons
    : countMemberNames(text) === counts.members;
  return same ? null : findDuplicateKey(text) ?? "(unknown)";
}

// The number of member names in valid JSON `text`: its colons outside strings.
function countMemberNames(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = closingQuote(text, i);
    } else if (c === 0x3a /* : */) {
      count++;
    }
  }
  return count;
}

// Adds the members of a value JSON.parse returned, and the colons in its names and strings.
function countParsed(v: unknown, counts: { members: number; colons: number }): void {
  if (typeof v !== "object" || v === null) {
    if (typeof v === "string") counts.colons += colonsIn(v);
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== "number") countParsed(v[i], counts);
  } else {
    for (const k in v) {
      counts.members++;
      counts.colons += colonsIn(k);
      countParsed((v as Record<string, unknown>)[k], counts);
    }
  }
}

// indexOf runs natively, many times faster than a loop over char codes.
function colonsIn(s: string): number {
  if (s.indexOf(":") === -1) return 0;
  let n = 0;
  for (let i = s.indexOf(":"); i !== -1; i = s.indexOf(":", i + 1)) n++;
  return n;
}

// The index of the quote that closes the string of valid JSON `text` opened at `open`.
function closingQuote(text: string, open: number): number {
  for (let i = open + 1;; i++) {
    const d = text.charCodeAt(i);
    if (d === 0x5c /* \ */) i++;
    else if (d === 0x22 /* " */) return i;
  }
}
