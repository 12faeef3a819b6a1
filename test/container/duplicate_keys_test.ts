import assert from "node:assert/strict";
import { findDuplicateKey, repeatedMemberName } from "../../src/container/duplicate_keys.ts";

Deno.test("findDuplicateKey: finds a repeat within one object only", () => {
  const cases: [string, string | null][] = [
    ['{"a":1,"b":2}', null],
    ['{"a":1,"a":2}', "a"],
    ['{"a":{"a":1},"b":[{"a":1},{"a":2}]}', null],
    ['[{"x":"a,\\"b"},{"x":1,"y":{"x":2},"x":3}]', "x"],
    ['{"a":[1,2,{"b":1}],"c":"{\\"a\\":1}","a":0}', "a"],
    ['{"k":"\\\\","k2":1}', null],
    ["[]", null],
    ['"a"', null],
  ];
  for (const [text, want] of cases) {
    JSON.parse(text); // every case is valid JSON, as the function requires
    assert.equal(findDuplicateKey(text), want, text);
  }
});

Deno.test("findDuplicateKey: names spelled with escapes compare decoded", () => {
  assert.equal(findDuplicateKey('{"a":1,"\\u0061":2}'), "a");
  assert.equal(findDuplicateKey('{"\\/":1,"/":2}'), "/");
});

Deno.test("repeatedMemberName: counts agree without repeats, with or without escapes", () => {
  const cases: [string, string | null][] = [
    ['{"a":1,"b":2}', null],
    ['{"a:b":"c:d","e":["f:g:h",{"i":":"}],"j":null,"k":[true,1,"::"]}', null],
    ['{"a:b":"c:d","a:b":"c"}', "a:b"],
    ['{"a":{"x":1},"a":{"x":1}}', "a"],
    ['[{"x":"a:b"},{"x":1,"y":{"x":2},"x":3}]', "x"],
    ['{"n":"\\u003a","m":"\\"a:\\""}', null],
    ['{"\\u003a":1,":":2}', ":"],
    ['{"a":1,"\\u0061":2}', "a"],
    ["[]", null],
    ['"a:b"', null],
  ];
  for (const [text, want] of cases) {
    assert.equal(repeatedMemberName(text, JSON.parse(text)), want, text);
  }
});
