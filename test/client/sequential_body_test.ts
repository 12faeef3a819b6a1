/**
 * The sequential body: reads claimed in order are served from one body as it arrives, gaps
 * skipped; bounded read-ahead; a short body, a cancel and an out-of-order read reject clearly.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ClientError } from "../../src/client/errors.ts";
import { sequentialBody } from "../../src/client/sequential_body.ts";

/** A stream of `bytes` in pieces of the given sizes (cycled), counting what was pulled. */
function pieces(bytes: Uint8Array, sizes: number[], pulled = { n: 0 }): ReadableStream<Uint8Array> {
  let at = 0, k = 0;
  return new ReadableStream({
    pull(ctl) {
      if (at >= bytes.length) return ctl.close();
      const n = Math.max(1, sizes[k++ % sizes.length]);
      ctl.enqueue(bytes.slice(at, at + n));
      pulled.n += Math.min(n, bytes.length - at);
      at += n;
    },
  }, { highWaterMark: 0 });
}

const bytesOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 255);

Deno.test("sequential body: any ordered reads with gaps get exactly their bytes", () =>
  fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 1, max: 400 })), {
        minLength: 1,
        maxLength: 12,
      }),
      fc.nat(1000),
      async (sizes, reads, start) => {
        const total = 4000, data = bytesOf(total);
        const body = sequentialBody(pieces(data, sizes), start, start + total, { readAhead: 256 });
        let at = start, consumed = 0;
        const waits: Promise<void>[] = [], want: [Uint8Array, number][] = [];
        for (const [gap, length] of reads) {
          const offset = at + gap;
          if (offset + length > start + total) break;
          const into = new Uint8Array(length);
          waits.push(body.read(offset, into, (n) => consumed += n));
          want.push([into, offset - start]);
          at = offset + length;
        }
        await Promise.all(waits);
        for (const [into, from] of want) {
          assert.deepEqual(
            into,
            data.subarray(from, from + into.length),
          );
        }
        assert.equal(consumed, at - start, "consumed bytes, skipped ones included");
        body.cancel();
      },
    ),
    { numRuns: 60 },
  ));

Deno.test("sequential body: reads ahead at most about readAhead bytes, and nothing past limit", async () => {
  const data = bytesOf(100_000), pulled = { n: 0 };
  const body = sequentialBody(pieces(data, [1000], pulled), 0, data.length, { readAhead: 10_000 });
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(pulled.n <= 11_000, `read ${pulled.n} bytes ahead`);
  const a = new Uint8Array(5000);
  await body.read(0, a);
  body.limit(20_000);
  assert.equal(body.end, 20_000);
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(pulled.n <= 20_000 + 1000, `read ${pulled.n} bytes, limit 20000`);
  const b = new Uint8Array(15_000);
  await body.read(5000, b);
  assert.deepEqual(b, data.subarray(5000, 20_000));
  assert.equal(body.open, false, "fully claimed");
  await assert.rejects(body.read(20_000, new Uint8Array(1)), RangeError);
});

Deno.test("sequential body: a short body, a cancel and a read behind the claimed end reject", async () => {
  const data = bytesOf(1000);
  const short = sequentialBody(pieces(data, [100]), 0, 2000);
  await assert.rejects(
    short.read(500, new Uint8Array(1000)),
    (e) => e instanceof ClientError && /ended at byte 1000/.test(e.message),
  );
  assert.equal(short.open, false);
  const body = sequentialBody(pieces(data, [100]), 0, 1000);
  await body.read(0, new Uint8Array(10));
  await assert.rejects(body.read(5, new Uint8Array(1)), RangeError);
  const pending = body.read(900, new Uint8Array(100));
  body.cancel();
  await assert.rejects(pending, ClientError);
  assert.equal(body.open, false);
});

Deno.test("sequential body: limited to what it received, it serves those bytes and reads no more", async () => {
  const data = bytesOf(1000);
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      ctl = c;
      c.enqueue(data.slice(0, 300));
    },
    cancel() {
      cancelled = true;
    },
  });
  const body = sequentialBody(stream, 0, 1000, { readAhead: 4096 });
  const first = new Uint8Array(100);
  await body.read(0, first);
  // The pump has queued the 300 bytes and waits on the body for more: limit it there.
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(body.received, 300);
  body.limit(body.received);
  assert.ok(cancelled, "the body is cancelled");
  ctl.error(new Error("gone")); // whatever the body does now is not read
  const rest = new Uint8Array(200);
  await body.read(100, rest);
  assert.deepEqual(rest, data.subarray(100, 300));
  assert.equal(body.open, false);
  await assert.rejects(body.read(300, new Uint8Array(1)), RangeError);
});
