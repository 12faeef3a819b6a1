import assert from "node:assert/strict";
import { CodecError } from "../../codec/errors.ts";
import { openContainer } from "../../src/container/read.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import { bufferReader } from "../../src/io/random_access.ts";
import { createDecodePool } from "../../src/server/decode_pool.ts";
import { demoContainer } from "./harness.ts";

Deno.test("decode pool: workers and the main thread decode alike; corrupt input is a CodecError", async () => {
  const bytes = await demoContainer();
  const c = await openContainer(bufferReader(bytes));
  const t = c.index.tensors[0];
  const l = losslessOf(t);
  const [offset, storedLength, rawLength, storedXxh32, rawXxh32] = l.chunks[0];
  const entry = { storedLength, rawLength, storedXxh32, rawXxh32 };
  let observed = 0;
  const pools = [await createDecodePool(0), await createDecodePool(2, (b) => void (observed += b))];
  try {
    const [inline, workers] = pools;
    const a = await inline.decode(bytes.slice(offset, offset + storedLength), entry, l.layout);
    const many = await Promise.all(
      Array.from(
        { length: 6 },
        () => workers.decode(bytes.slice(offset, offset + storedLength), entry, l.layout),
      ),
    );
    for (const b of many) assert.deepEqual(b, a);
    assert.equal(observed, 6 * rawLength);
    const bad = bytes.slice(offset, offset + storedLength);
    bad[bad.length - 3] ^= 0xff;
    for (const pool of pools) {
      await assert.rejects(pool.decode(bad.slice(), entry, l.layout), CodecError);
    }
  } finally {
    for (const p of pools) p.close();
  }
});
