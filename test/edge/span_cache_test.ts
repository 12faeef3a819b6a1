/** The disk tier: LRU within the budget, entries survive a reopen, damaged files are dropped. */
import assert from "node:assert/strict";
import { openSpanCache, rawName, segmentName } from "../../src/edge/span_cache.ts";

const SHA = "ab".repeat(32);

Deno.test("span cache: least recently used out first, within the budget, across reopens", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cache = await openSpanCache(dir, 3000);
    const names = [0, 1, 2].map((i) => segmentName(SHA, i * 1000, 1000));
    for (const [i, n] of names.entries()) await cache.put(n, new Uint8Array(1000).fill(i));
    assert.deepEqual(await cache.get(names[0]), new Uint8Array(1000).fill(0)); // 0 is now recent
    await cache.put(segmentName(SHA, 3000, 1000), new Uint8Array(1000).fill(3));
    assert.equal(cache.has(names[1]), false, "the least recently used went");
    assert.equal(cache.has(names[0]), true);
    const f = cache.figures();
    assert.equal(f.bytes, 3000);
    assert.equal(f.evictions, 1);
    await cache.put(rawName(SHA), new Uint8Array(5000)); // larger than the budget: not kept
    assert.equal(cache.has(rawName(SHA)), false);
    // A damaged file (wrong size for its name) is dropped when the cache opens again.
    await Deno.writeFile(`${dir}/${names[2]}`, new Uint8Array(10));
    const again = await openSpanCache(dir, 3000);
    assert.equal(again.has(names[2]), false);
    assert.deepEqual(await again.get(names[0]), new Uint8Array(1000).fill(0));
    assert.equal(again.figures().entries, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("span cache: readInto reads a part of an entry into the caller's buffer, from the file that holds the entry now", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cache = await openSpanCache(dir, 1 << 20);
    const name = segmentName(SHA, 0, 1000);
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    await cache.put(name, bytes);
    const target = new Uint8Array(300);
    assert.equal(await cache.readInto(name, 500, target), true);
    assert.deepEqual(target, bytes.subarray(500, 800));
    // Replaced (a refetch renames a new file over it): the kept descriptor is not read again.
    await cache.put(name, new Uint8Array(1000).fill(7));
    assert.equal(await cache.readInto(name, 500, target), true);
    assert.deepEqual(target, new Uint8Array(300).fill(7));
    // Changed in place: read as it is now (the reader verifies what it reads).
    const file = `${dir}/${name}`;
    await Deno.writeFile(file, new Uint8Array(1000).fill(9));
    assert.equal(await cache.readInto(name, 0, target), true);
    assert.deepEqual(target, new Uint8Array(300).fill(9));
    // Shorter than its name says: an error, not a short read.
    await Deno.writeFile(file, new Uint8Array(10));
    await assert.rejects(
      cache.readInto(name, 500, target),
      /shorter than its name says: no byte at 500/,
    );
    // Not held, or removed by hand: false, and forgotten.
    assert.equal(await cache.readInto(segmentName(SHA, 1000, 1000), 0, target), false);
    await cache.put(name, bytes);
    await Deno.remove(`${dir}/${name}`);
    assert.equal(await cache.readInto(name, 0, target), false);
    assert.equal(cache.has(name), false);
    assert.equal(cache.figures().bytes, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("span cache: close closes the descriptors it kept open, and a read after it keeps none", async () => {
  const dir = await Deno.makeTempDir();
  // The descriptors open on this cache's files, read from the process's descriptor table.
  const openOnDir = async () => {
    let n = 0;
    for await (const e of Deno.readDir("/proc/self/fd")) {
      const to = await Deno.readLink(`/proc/self/fd/${e.name}`).catch(() => "");
      if (to.startsWith(dir)) n++;
    }
    return n;
  };
  try {
    const cache = await openSpanCache(dir, 1 << 20);
    const names = [0, 1, 2].map((i) => segmentName(SHA, i * 100, 100));
    for (const [i, n] of names.entries()) await cache.put(n, new Uint8Array(100).fill(i));
    const target = new Uint8Array(10);
    for (const n of names) assert.equal(await cache.readInto(n, 0, target), true);
    assert.equal(await openOnDir(), 3);
    await cache.close();
    // node:fs closes on a callback: let it run.
    for (let i = 0; i < 50 && await openOnDir() > 0; i++) {
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.equal(await openOnDir(), 0);
    assert.equal(await cache.readInto(names[1], 0, target), true);
    assert.deepEqual(target, new Uint8Array(10).fill(1));
    for (let i = 0; i < 50 && await openOnDir() > 0; i++) {
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.equal(await openOnDir(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("span cache: close waits for the writes under way and refuses later ones", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cache = await openSpanCache(dir, 1 << 20);
    const name = segmentName(SHA, 0, 4096);
    // Not awaited: close() must wait for it, since the folder's next owner counts what it finds.
    const writing = cache.put(name, new Uint8Array(4096).fill(7));
    await cache.close();
    await writing;
    assert.equal((await Deno.stat(`${dir}/${name}`)).size, 4096);
    await assert.rejects(
      cache.put(segmentName(SHA, 4096, 10), new Uint8Array(10)),
      /span cache is closed/,
    );
    const tmp = cache.tempPath();
    await Deno.writeFile(tmp, new Uint8Array(10));
    await assert.rejects(cache.adopt(segmentName(SHA, 8192, 10), tmp, 10), /closed/);
    await assert.rejects(Deno.stat(tmp), Deno.errors.NotFound, "the refused file is removed");
    const again = await openSpanCache(dir, 1 << 20);
    assert.equal(again.figures().entries, 1);
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
