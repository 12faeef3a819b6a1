import assert from "node:assert/strict";
import {
  evaluatePreconditions,
  ifNoneMatch,
  ifRange,
  parseEtagList,
  parseHttpDate,
  type Preconditions,
  writeAllowed,
} from "../../src/http/conditional.ts";

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
  assert.equal(ifRange(null, { etag: '"a"' }), true);
  assert.equal(ifRange('"a"', { etag: '"a"' }), true);
  assert.equal(ifRange('W/"a"', { etag: '"a"' }), false);
  assert.equal(ifRange('"b"', { etag: '"a"' }), false);
  assert.equal(ifRange("Tue, 24 Nov 2026 10:00:00 GMT", { etag: '"a"' }), false);
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

const DATE = Date.UTC(2026, 10, 24, 10, 0, 0); // Tue, 24 Nov 2026 10:00:00 GMT
const AT = "Tue, 24 Nov 2026 10:00:00 GMT", BEFORE = "Tue, 24 Nov 2026 09:59:59 GMT";

Deno.test("evaluatePreconditions: the order of RFC 9110 §13.2.2 on every method", () => {
  const cur = { etag: '"a"', lastModified: DATE };
  const cases: [string, Preconditions, string][] = [
    ["GET", {}, "proceed"],
    ["GET", { ifMatch: '"b"' }, "failed"], // §13.1.1 applies to GET too
    ["HEAD", { ifMatch: 'W/"a"' }, "failed"], // strong comparison
    ["GET", { ifMatch: '"b", "a"' }, "proceed"],
    ["GET", { ifMatch: "*" }, "proceed"],
    ["GET", { ifMatch: '"b"', ifNoneMatch: '"a"' }, "failed"], // step 1 before step 3
    ["GET", { ifMatch: '"a"', ifNoneMatch: '"a"' }, "not_modified"],
    ["PUT", { ifMatch: '"a"', ifNoneMatch: '"a"' }, "failed"],
    ["GET", { ifNoneMatch: 'W/"a"' }, "not_modified"], // weak comparison
    ["DELETE", { ifNoneMatch: "*" }, "failed"],
    // If-Unmodified-Since: false when modified after the date; ignored beside If-Match.
    ["GET", { ifUnmodifiedSince: BEFORE }, "failed"],
    ["PUT", { ifUnmodifiedSince: AT }, "proceed"],
    ["PUT", { ifMatch: '"a"', ifUnmodifiedSince: BEFORE }, "proceed"],
    ["GET", { ifUnmodifiedSince: "not a date" }, "proceed"],
    ["GET", { ifUnmodifiedSince: `${BEFORE}, ${BEFORE}` }, "proceed"], // a list is invalid
    // If-Modified-Since: GET and HEAD only, ignored beside If-None-Match.
    ["GET", { ifModifiedSince: AT }, "not_modified"],
    ["HEAD", { ifModifiedSince: BEFORE }, "proceed"],
    ["PUT", { ifModifiedSince: AT }, "proceed"],
    ["GET", { ifNoneMatch: '"b"', ifModifiedSince: AT }, "proceed"],
    // A date in the future is invalid (§13.1.3) and ignored.
    ["GET", { ifModifiedSince: "Fri, 31 Dec 9999 23:59:59 GMT" }, "proceed"],
    // If-Match is step 1: a stale tag is 412 even where If-Modified-Since would give 304.
    ["GET", { ifMatch: '"stale"', ifModifiedSince: AT }, "failed"],
    ["GET", { ifUnmodifiedSince: BEFORE, ifNoneMatch: '"a"' }, "failed"], // step 2 before step 3
  ];
  for (const [method, p, want] of cases) {
    assert.equal(evaluatePreconditions(method, p, cur), want, `${method} ${JSON.stringify(p)}`);
  }
  // Without a modification date both date conditions are ignored (§13.1.3-4).
  assert.equal(
    evaluatePreconditions("GET", { ifUnmodifiedSince: BEFORE }, { etag: '"a"' }),
    "proceed",
  );
  assert.equal(evaluatePreconditions("GET", { ifModifiedSince: AT }, { etag: '"a"' }), "proceed");
  // A target that does not exist matches no If-Match, and no If-None-Match.
  assert.equal(evaluatePreconditions("PUT", { ifMatch: "*" }, { etag: null }), "failed");
  assert.equal(evaluatePreconditions("PUT", { ifNoneMatch: "*" }, { etag: null }), "proceed");
});

Deno.test("ifRange: a date qualifies only when it equals the modification date", () => {
  assert.equal(ifRange(AT, { etag: '"a"', lastModified: DATE }), true);
  assert.equal(ifRange(BEFORE, { etag: '"a"', lastModified: DATE }), false);
  assert.equal(ifRange(AT, { etag: '"a"' }), false);
});

Deno.test("parseHttpDate: the three forms of RFC 9110 §5.6.7, nothing else", () => {
  const t = Date.UTC(1994, 10, 6, 8, 49, 37);
  assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), t);
  assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), t);
  assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994"), t);
  for (
    const bad of [
      "",
      "yesterday",
      "1",
      "Sun, 06 Nov 1994 08:49:37 UTC",
      "Sun, 31 Feb 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",
      "2026-11-24T10:00:00Z",
    ]
  ) {
    assert.equal(parseHttpDate(bad), null, bad);
  }
});
