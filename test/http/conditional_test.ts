import assert from "node:assert/strict";
import { ifNoneMatch, ifRange, parseEtagList } from "../../src/http/conditional.ts";

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
