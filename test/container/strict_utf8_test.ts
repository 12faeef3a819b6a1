import assert from "node:assert/strict";
import fc from "fast-check";
import { strictUtf8 } from "../../src/container/index_schema.ts";

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The fatal decoder's verdict: its text, or its error's name. */
function reference(bytes: Uint8Array): string {
  try {
    return "ok:" + fatal.decode(bytes);
  } catch (e) {
    return `throws:${(e as Error).name}`;
  }
}

function ours(bytes: Uint8Array): string {
  try {
    return "ok:" + strictUtf8(bytes);
  } catch (e) {
    return `throws:${(e as Error).name}`;
  }
}

Deno.test("strictUtf8 decodes exactly as the fatal decoder: any bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => ours(b) === reference(b)),
    { numRuns: 2000 },
  );
});

Deno.test("strictUtf8 decodes exactly as the fatal decoder: valid text, then damaged", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.nat(),
      fc.integer({ min: 0x80, max: 0xff }),
      (s, at, b) => {
        const bytes = new TextEncoder().encode(s);
        if (ours(bytes) !== reference(bytes)) return false;
        if (bytes.length === 0) return true;
        const damaged = bytes.slice();
        damaged[at % bytes.length] = b;
        return ours(damaged) === reference(damaged);
      },
    ),
  );
});

Deno.test("strictUtf8 keeps a byte-order mark and an encoded U+FFFD, refuses a lone byte", () => {
  assert.equal(strictUtf8(Uint8Array.of(0xef, 0xbb, 0xbf, 0x7b, 0x7d)), "\uFEFF{}");
  assert.equal(strictUtf8(Uint8Array.of(0x22, 0xef, 0xbf, 0xbd, 0x22)), '"\uFFFD"');
  assert.throws(() => strictUtf8(Uint8Array.of(0x7b, 0xff, 0x7d)), TypeError);
});
