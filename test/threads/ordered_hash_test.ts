/**
 * The ordered hash: turns fed in order give the SHA-256 of the bytes joined; a turn that came
 * already, or any turn after a failure, throws instead of waiting.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  failOrderedHash,
  hashInTurn,
  isTurn,
  orderedHash,
  orderedHex,
  turnsHashed,
} from "../../src/threads/ordered_hash.ts";

Deno.test("ordered hash: turns in order hash the bytes joined; stale turns and failures throw", () => {
  const h = orderedHash();
  if (!h) return; // no native library: the pool then hashes on the calling thread
  const parts = [Uint8Array.of(1, 2, 3), new Uint8Array(100_000).fill(7), Uint8Array.of()];
  parts.forEach((p, turn) => {
    assert.ok(isTurn(h, turn));
    hashInTurn(h, turn, p);
  });
  assert.equal(turnsHashed(h), 3);
  assert.throws(() => hashInTurn(h, 1, parts[0]), /turn 1 came twice/);
  const expected = createHash("sha256");
  for (const p of parts) expected.update(p);
  assert.equal(orderedHex(h), expected.digest("hex"));

  // Turn 2 fails: turn 4 stops waiting, but turns 0 and 1 still hash, so that the caller, who
  // awaits blocks in order, meets turn 2's own error rather than a later one's.
  const failed = orderedHash()!;
  failOrderedHash(failed, 3);
  failOrderedHash(failed, 2);
  failOrderedHash(failed, 5);
  assert.throws(() => hashInTurn(failed, 4, parts[0]), /block 4 not hashed, since block 2 failed/);
  hashInTurn(failed, 0, parts[0]);
  hashInTurn(failed, 1, parts[1]);
  assert.equal(turnsHashed(failed), 2);
});
