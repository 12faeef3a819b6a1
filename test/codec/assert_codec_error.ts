/**
 * Assertions about {@link CodecError}s shared by the codec tests.
 * @module
 */
import assert from "node:assert/strict";
import { CodecError, type CodecErrorKind } from "../../codec/errors.ts";

/** Asserts that `fn` throws a CodecError whose kind is one of `kinds`. */
export function assertCodecError(fn: () => unknown, ...kinds: CodecErrorKind[]): CodecError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected a CodecError (${kinds.join(" | ")}), nothing thrown`);
  assert.ok(caught instanceof CodecError, `expected a CodecError, got ${String(caught)}`);
  assert.equal(caught.name, "CodecError");
  assert.ok(
    kinds.length === 0 || kinds.includes(caught.kind),
    `expected kind ${kinds.join(" | ")}, got ${caught.kind}: ${caught.message}`,
  );
  return caught;
}

/**
 * Runs `fn`, which may fail only with a CodecError of one of `kinds`. Returns whether it returned
 * normally; rethrows anything else so the test fails with the original error.
 */
export function decodesOrCodecError(fn: () => unknown, ...kinds: CodecErrorKind[]): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    assert.ok(
      kinds.length === 0 || kinds.includes(e.kind),
      `unexpected kind ${e.kind}: ${e.message}`,
    );
    return false;
  }
}
