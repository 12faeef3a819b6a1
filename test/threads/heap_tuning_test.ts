/**
 * The allocator tuning of decoding processes: it takes effect on Linux with glibc when FFI is
 * granted (as in every entry point, which run with -A), is done once, and never throws.
 * @module
 */
import assert from "node:assert/strict";
import { keepBlockBuffersInHeap } from "../../src/threads/heap_tuning.ts";

Deno.test("keepBlockBuffersInHeap: takes effect on glibc Linux with FFI, once, without throwing", () => {
  const first = keepBlockBuffersInHeap();
  let glibc = false;
  try {
    Deno.dlopen("libc.so.6", { getpid: { parameters: [], result: "i32" } }).close();
    glibc = Deno.build.os === "linux";
  } catch {
    // not glibc: the tuning must then report that it did nothing
  }
  assert.equal(first, glibc);
  assert.equal(keepBlockBuffersInHeap(), first);
  // Blocks still allocate and free normally afterwards.
  for (let i = 0; i < 64; i++) assert.equal(new Uint8Array(1 << 20)[i], 0);
});
