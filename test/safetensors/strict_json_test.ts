import assert from "node:assert/strict";
import { parseStrictJson } from "../../src/safetensors/strict_json.ts";

function parse(text: string): unknown {
  const { value, end } = parseStrictJson(text);
  assert.equal(text.slice(end).trim(), "", `unparsed tail in ${JSON.stringify(text)}`);
  return value;
}

function rejects(text: string, pattern: RegExp): void {
  assert.throws(() => parse(text), (err: unknown) => {
    assert.ok(err instanceof SyntaxError, `expected SyntaxError, got ${err}`);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("strict json: agrees with JSON.parse on valid documents", () => {
  const corpus = [
    "{}",
    "[]",
    ' { "a" : [ 1 , 2.5 , -3e2 , true , false , null ] , "b" : { "c" : "d" } } ',
    '"plain"',
    "0",
    "-0",
    "1E+2",
    "1e-2",
    "123.456e7",
    "[[[]],[{}]]",
    '{"":""}',
    '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
    '"\\u0041\\u00e9\\u4e2d"',
    '"\\ud83d\\ude00"',
    '"emoji 😀 and ünïcödé"',
    "\t\r\n[1]\n",
  ];
  for (const text of corpus) assert.deepEqual(parse(text), JSON.parse(text), text);
});

Deno.test("strict json: surrogate pair escapes decode to one code point", () => {
  const s = parse('"\\uD83D\\uDE00"') as string;
  assert.equal(s, "😀");
  assert.equal(s.codePointAt(0), 0x1f600);
});

Deno.test("strict json: end is the index just past the value", () => {
  assert.deepEqual(parseStrictJson('{"a":1}   '), { value: { a: 1 }, end: 7 });
  assert.deepEqual(parseStrictJson("  [1] x"), { value: [1], end: 5 });
  assert.deepEqual(parseStrictJson("12,"), { value: 12, end: 2 });
});

Deno.test("strict json: duplicate keys throw and name the key", () => {
  for (const text of ['{"a":1,"a":2}', '{"x":{"k":1,"b":2,"k":3}}', '[{"é":1,"é":2}]']) {
    assert.throws(() => parseStrictJson(text), (err: unknown) => {
      assert.ok(err instanceof SyntaxError);
      assert.match(err.message, /duplicate key/);
      const key = (err.cause as { duplicateKey: string }).duplicateKey;
      assert.ok(["a", "k", "é"].includes(key));
      assert.ok(err.message.includes(JSON.stringify(key)));
      return true;
    });
  }
});

Deno.test("strict json: keys equal after unescaping count as duplicates", () => {
  assert.throws(
    () => parseStrictJson('{"a":1,"\\u0061":2}'),
    (err: unknown) =>
      (err as Error).cause !== undefined &&
      ((err as Error).cause as { duplicateKey: string }).duplicateKey === "a",
  );
});

Deno.test("strict json: __proto__ is an ordinary key", () => {
  const v = parse('{"__proto__":{"x":1},"y":2}') as Record<string, unknown>;
  assert.ok(Object.hasOwn(v, "__proto__"));
  assert.deepEqual(Object.keys(v), ["__proto__", "y"]);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.throws(() => parse('{"__proto__":1,"__proto__":2}'), /duplicate key/);
});

Deno.test("strict json: nesting is capped without overflowing the stack", () => {
  const nested = (n: number) => "[".repeat(n) + "]".repeat(n);
  assert.equal(parseStrictJson(nested(64)).end, 128);
  rejects(nested(65), /nesting deeper than 64/);
  rejects(nested(1_000_000), /nesting deeper than 64/);
  rejects('{"a":'.repeat(100) + "1" + "}".repeat(100), /nesting deeper than 64/);
  assert.equal(parseStrictJson(nested(3), 3).end, 6);
  assert.throws(() => parseStrictJson(nested(4), 3), /nesting deeper than 3/);
});

Deno.test("strict json: malformed numbers are rejected", () => {
  const bad = ["-", "+1", ".5", "1.", "1e", "1e+", "-a", "Infinity", "NaN", "01", "-01", "1.2.3"];
  for (const text of bad) assert.throws(() => parseStrictJson(text), SyntaxError, text);
  // "x" cannot continue a number, so the value ends there and the caller judges the tail.
  assert.deepEqual(parseStrictJson("0x10"), { value: 0, end: 1 });
  assert.throws(() => parseStrictJson("[1e5e5]"), /end of the number/);
});

Deno.test("strict json: malformed structure is rejected with a position", () => {
  rejects("", /expected a JSON value at position 0, got end of input/);
  rejects("{", /expected a string key/);
  rejects('{"a"}', /expected ":"/);
  rejects('{"a":1,}', /expected a string key/);
  rejects("[1,]", /expected a JSON value/);
  rejects("[1 2]", /expected "," or "]"/);
  rejects('{"a":1 "b":2}', /expected "," or "}"/);
  rejects("{a:1}", /expected a string key/);
  rejects("tru", /expected a JSON value/);
  rejects("nul", /expected a JSON value/);
  rejects("'x'", /expected a JSON value/);
});

Deno.test("strict json: malformed strings are rejected", () => {
  rejects('"abc', /closing quote/);
  rejects('"a\nb"', /control characters/);
  rejects('"a\tb"', /control characters/);
  rejects('"\\x41"', /valid escape/);
  rejects('"\\u12"', /4 hex digits/);
  rejects('"\\u12G4"', /4 hex digits/);
  rejects('"\\', /valid escape/);
});
