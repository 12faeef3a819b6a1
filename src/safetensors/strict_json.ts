/**
 * A strict RFC 8259 JSON parser. Unlike `JSON.parse` it rejects duplicate object
 * keys (which would let two readers of one safetensors header disagree), caps
 * nesting depth, and reports where the value ends so callers can police what follows.
 * @module
 */

/**
 * Parses one JSON value starting at `text[0]` (leading whitespace allowed) and returns it
 * with the index just past it; the caller decides what may follow. Throws `SyntaxError`;
 * for a repeated key the error's `cause` is `{ duplicateKey: string }`.
 */
export function parseStrictJson(
  text: string,
  maxDepth = 64,
): { value: unknown; end: number } {
  let pos = 0;

  function fail(expected: string, options?: ErrorOptions): never {
    const got = pos < text.length ? JSON.stringify(text[pos]) : "end of input";
    throw new SyntaxError(`JSON: expected ${expected} at position ${pos}, got ${got}`, options);
  }

  function skipWhitespace(): void {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      pos++;
    }
  }

  function parseValue(depth: number): unknown {
    skipWhitespace();
    const c = text[pos];
    if (c === "{" || c === "[") {
      // Bounding depth keeps hostile input from exhausting the call stack.
      if (depth >= maxDepth) {
        throw new SyntaxError(
          `JSON: nesting deeper than ${maxDepth} levels at position ${pos}`,
        );
      }
      return c === "{" ? parseObject(depth + 1) : parseArray(depth + 1);
    }
    if (c === '"') return parseString();
    if (c === "-" || (c >= "0" && c <= "9")) return parseNumber();
    if (text.startsWith("true", pos)) return (pos += 4, true);
    if (text.startsWith("false", pos)) return (pos += 5, false);
    if (text.startsWith("null", pos)) return (pos += 4, null);
    return fail("a JSON value");
  }

  function parseObject(depth: number): Record<string, unknown> {
    pos++; // {
    const obj: Record<string, unknown> = {};
    skipWhitespace();
    if (text[pos] === "}") return (pos++, obj);
    for (;;) {
      skipWhitespace();
      if (text[pos] !== '"') fail("a string key");
      const keyPos = pos;
      const key = parseString();
      if (Object.hasOwn(obj, key)) {
        pos = keyPos;
        throw new SyntaxError(
          `JSON: duplicate key ${JSON.stringify(key)} at position ${keyPos}`,
          { cause: { duplicateKey: key } },
        );
      }
      skipWhitespace();
      if (text[pos] !== ":") fail('":"');
      pos++;
      // defineProperty so a "__proto__" key becomes data rather than changing the prototype.
      Object.defineProperty(obj, key, {
        value: parseValue(depth),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      skipWhitespace();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] === "}") return (pos++, obj);
      fail('"," or "}"');
    }
  }

  function parseArray(depth: number): unknown[] {
    pos++; // [
    const arr: unknown[] = [];
    skipWhitespace();
    if (text[pos] === "]") return (pos++, arr);
    for (;;) {
      arr.push(parseValue(depth));
      skipWhitespace();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] === "]") return (pos++, arr);
      fail('"," or "]"');
    }
  }

  function parseString(): string {
    pos++; // opening quote
    let out = "";
    let chunkStart = pos;
    for (;;) {
      if (pos >= text.length) fail("a closing quote");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(chunkStart, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail("no unescaped control characters in a string");
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(chunkStart, pos);
      pos++; // backslash
      const e = text[pos];
      if (Object.hasOwn(ESCAPES, e)) {
        out += ESCAPES[e];
        pos++;
      } else if (e === "u") {
        // Surrogate pairs arrive as two \u escapes; appending both code units reassembles them.
        out += String.fromCharCode(parseHex4());
      } else {
        fail("a valid escape character");
      }
      chunkStart = pos;
    }
  }

  function parseHex4(): number {
    pos++; // u
    const hex = text.slice(pos, pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("4 hex digits after \\u");
    pos += 4;
    return parseInt(hex, 16);
  }

  function parseNumber(): number {
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m === null) return fail("a number");
    pos += m[0].length;
    // Without this, "01" or "1." would parse as a prefix and blame the wrong character later.
    if (/[0-9.eE+-]/.test(text[pos] ?? "")) fail("the end of the number");
    return Number(m[0]);
  }

  const value = parseValue(0);
  return { value, end: pos };
}

const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

// Sticky regex: the RFC 8259 number grammar anchored at lastIndex.
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
