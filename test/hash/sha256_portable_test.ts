/** The TypeScript SHA-256 against node:crypto, across the padding edges and split updates. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { portableSha256 } from "../../src/hash/sha256_portable.ts";

Deno.test("portable SHA-256: every length across the padding edges, in any split", () => {
  for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 100_003]) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
    const h = portableSha256();
    h.update(b.subarray(0, n >> 1));
    h.update(b.subarray(n >> 1));
    assert.equal(h.hex(), createHash("sha256").update(b).digest("hex"), `${n} bytes`);
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (b, cut) => {
    const h = portableSha256();
    h.update(b.subarray(0, cut));
    h.update(b.subarray(cut));
    return h.hex() === createHash("sha256").update(b).digest("hex");
  }));
});
