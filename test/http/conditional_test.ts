import assert from "node:assert/strict";
import { ifNoneMatch, ifRange, parseEtagList, writeAllowed } from "../../src/http/conditional.ts";

Deno.test("If-None-Match: weak comparison over a list, and *", () => {
  assert.equal(ifNoneMatch(null, '"a"'), false);
  assert.equal(ifNoneMatch('"a"', '"a"'), true);
  assert.equal(ifNoneMatch('"b", W/"a"', '"a"'), true);
  assert.equal(ifNoneMatch('"b","c"', '"a"'), false);
  assert.equal(ifNoneMatch("*", '"a"'), true);
  assert.equal(ifNoneMatch('garbage, "a"', '"a"'), true);
  assert.deepEqual(parseEtagList(' W/"x" , "y"').tags, [
    { weak: true, tag: '"x"' },
    { weak: false, tag: '"y"' },
  ]);
});

Deno.test("If-Range: only an equal strong entity tag keeps the Range", () => {
  assert.equal(ifRange(null, '"a"'), true);
  assert.equal(ifRange('"a"', '"a"'), true);
  assert.equal(ifRange('W/"a"', '"a"'), false);
  assert.equal(ifRange('"b"', '"a"'), false);
  assert.equal(ifRange("Tue, 24 Nov 2026 10:00:00 GMT", '"a"'), false);
});

Deno.test("writeAllowed: If-Match strong and existing, If-None-Match refuses a match or any", () => {
  const cases: [string | null, string | null, string | null, boolean][] = [
    [null, null, null, true],
    [null, null, '"a"', true],
    ['"a"', null, '"a"', true],
    ['"b", "a"', null, '"a"', true],
    ['W/"a"', null, '"a"', false], // If-Match compares strongly
    ['"b"', null, '"a"', false],
    ['"a"', null, null, false], // nothing to match
    ["*", null, '"a"', true],
    ["*", null, null, false],
    [null, "*", null, true], // create only
    [null, "*", '"a"', false],
    [null, 'W/"a"', '"a"', false], // If-None-Match compares weakly
    [null, '"b"', '"a"', true],
    ['"a"', '"a"', '"a"', false],
  ];
  for (const [ifMatch, ifNone, current, want] of cases) {
    assert.equal(writeAllowed(ifMatch, ifNone, current), want, `${ifMatch} ${ifNone} ${current}`);
  }
});
