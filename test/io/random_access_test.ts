import assert from "node:assert/strict";
import { bufferReader, openFileReader } from "../../src/io/random_access.ts";

function sample(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

async function withTempFile(
  bytes: Uint8Array,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".bin" });
  try {
    await Deno.writeFile(path, bytes);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("bufferReader: reads exact ranges and returns copies", async () => {
  const bytes = sample(100);
  const r = bufferReader(bytes);
  assert.equal(r.size, 100);
  assert.deepEqual(await r.readAt(10, 5), bytes.subarray(10, 15));
  assert.deepEqual(await r.readAt(0, 100), bytes);
  assert.equal((await r.readAt(100, 0)).length, 0);
  const got = await r.readAt(0, 4);
  got[0] ^= 0xff;
  assert.equal(bytes[0], 3, "mutating a read must not change the source");
});

Deno.test("bufferReader: out-of-range and invalid reads reject clearly", async () => {
  const r = bufferReader(sample(10));
  await assert.rejects(r.readAt(8, 3), /read of 3 bytes at offset 8 exceeds size 10/);
  await assert.rejects(r.readAt(11, 0), RangeError);
  await assert.rejects(r.readAt(-1, 1), /offset must be a non-negative integer: received -1/);
  await assert.rejects(r.readAt(0, 1.5), /length must be a non-negative integer/);
  await assert.rejects(r.readAt(Number.MAX_SAFE_INTEGER, 1), RangeError);
  r.close();
  await assert.rejects(r.readAt(0, 1), /closed/);
});

Deno.test("openFileReader: positional reads at arbitrary offsets", async () => {
  const bytes = sample(200_000);
  await withTempFile(bytes, async (path) => {
    const r = await openFileReader(path);
    try {
      assert.equal(r.size, bytes.length);
      assert.deepEqual(await r.readAt(199_990, 10), bytes.subarray(199_990));
      assert.deepEqual(await r.readAt(0, 8), bytes.subarray(0, 8));
      assert.deepEqual(await r.readAt(0, bytes.length), bytes);
      assert.equal((await r.readAt(bytes.length, 0)).length, 0);
    } finally {
      r.close();
    }
  });
});

Deno.test("openFileReader: concurrent reads do not interfere", async () => {
  const bytes = sample(50_000);
  await withTempFile(bytes, async (path) => {
    const r = await openFileReader(path);
    try {
      const ranges = Array.from({ length: 40 }, (_, i) => [(i * 1237) % 49_000, 1 + i * 23]);
      const results = await Promise.all(ranges.map(([o, n]) => r.readAt(o, n)));
      for (const [i, [o, n]] of ranges.entries()) {
        assert.deepEqual(results[i], bytes.subarray(o, o + n), `range ${o}+${n}`);
      }
    } finally {
      r.close();
    }
  });
});

Deno.test("openFileReader: a failed read does not poison later reads", async () => {
  await withTempFile(sample(16), async (path) => {
    const r = await openFileReader(path);
    try {
      await assert.rejects(r.readAt(10, 10), /exceeds size 16/);
      assert.deepEqual(await r.readAt(4, 4), sample(16).subarray(4, 8));
    } finally {
      r.close();
    }
  });
});

Deno.test("openFileReader: a file truncated after opening ends early with a clear error", async () => {
  await withTempFile(sample(1000), async (path) => {
    const r = await openFileReader(path);
    try {
      await Deno.truncate(path, 100);
      await assert.rejects(
        r.readAt(50, 200),
        /file ended early: expected 200 bytes at offset 50, got 50 \(file was 1000 bytes/,
      );
    } finally {
      r.close();
    }
  });
});

Deno.test("openFileReader: closed reader rejects; close is idempotent; missing file throws", async () => {
  await withTempFile(sample(8), async (path) => {
    const r = await openFileReader(path);
    r.close();
    r.close();
    await assert.rejects(r.readAt(0, 1), /closed/);
  });
  await assert.rejects(openFileReader("/nonexistent/tessera/file.bin"), Deno.errors.NotFound);
});
