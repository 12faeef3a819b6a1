/**
 * Issue 10, phase 2: what a client gets from a container with a corrupt part.
 *
 * - A body of at most MAX_VERIFIED_BYTES (a tile, a small tensor, a short range, a multipart body
 *   of short parts) is produced before the status line, so a corrupt chunk is a 500 JSON error
 *   naming the tensor and chunk, never a 200 with a truncated body.
 * - A larger body is streamed: it stops at the last good byte before the corrupt chunk (at most
 *   one block of output earlier), the connection is cut short of Content-Length, and the server
 *   logs it once.
 * - A damaged stored original header fails only the reads that touch it: a range inside tensor
 *   data, tensors, tiles and the manifest are served.
 */
import assert from "node:assert/strict";
import { geometryOf, losslessOf, type TensorEntry } from "../../src/container/index_schema.ts";
import { BLOCK_BYTES } from "../../src/container/plan.ts";
import { readRegion } from "../../src/container/read.ts";
import { MAX_VERIFIED_BYTES } from "../../src/http/send.ts";
import { tileRect } from "../../codec/tiles.ts";
import { Rng } from "../codec/prng.ts";
import { openBytes, packBytes, withTempDir } from "../helpers/container.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import {
  demoContainer,
  ORIGINAL,
  parseMultipart,
  tensorSpan,
  withServer,
} from "../server/harness.ts";

const VICTIM = "model.layers.2.mlp.down_proj.weight";
const MODEL = "demo/stories260k";

/** `bytes` with the last stored byte of chunk `i` of tensor `name` flipped. */
async function corruptChunk(bytes: Uint8Array, name: string, i = 0): Promise<Uint8Array> {
  const c = await openBytes(bytes);
  const t = c.tensors.get(name)!;
  const [offset, stored] = losslessOf(t).chunks[i];
  const bad = bytes.slice();
  bad[offset + stored - 1] ^= 0x5a;
  // The flip must be one the reader detects, or the test proves nothing.
  await assert.rejects(readRegion(await openBytes(bad), t), /chunk/);
  return bad;
}

/** Installs container bytes as `org/name` at main under a models folder. */
async function install(dir: string, bytes: Uint8Array, id = MODEL): Promise<void> {
  await Deno.mkdir(`${dir}/${id}/main`, { recursive: true });
  await Deno.writeFile(`${dir}/${id}/main/model.tsr`, bytes);
}

/** Asserts a 500 JSON answer of kind `kind` whose message matches `message`. */
async function assertJsonError(res: Response, kind: string, message: RegExp, what: string) {
  const text = await res.text();
  assert.equal(res.status, 500, `${what}: ${res.status} ${text.slice(0, 200)}`);
  assert.match(res.headers.get("Content-Type") ?? "", /application\/json/, what);
  const body = JSON.parse(text);
  assert.equal(body.error, kind, what);
  assert.match(body.message, message, what);
}

Deno.test("verified bodies: a tile, tensor, range or multipart body over a corrupt chunk is a 500 naming it", async () => {
  const bad = await corruptChunk(await demoContainer(), VICTIM);
  const span = tensorSpan(ORIGINAL, VICTIM);
  const other = tensorSpan(ORIGINAL, "model.norm.weight");
  await withServer(
    async ({ url }) => {
      const names = new RegExp(`"${VICTIM.replaceAll(".", "\\.")}" chunk 0`);
      const cases: [string, string, Record<string, string>][] = [
        ["a 2-byte tile", `/v1/models/${MODEL}/tensors/${VICTIM}?rows=0:1&cols=0:1`, {}],
        ["the whole tensor", `/v1/models/${MODEL}/tensors/${VICTIM}`, {}],
        ["a range of the tensor", `/v1/models/${MODEL}/tensors/${VICTIM}`, {
          Range: "bytes=0-1",
        }],
        ["a range of model.safetensors", `/${MODEL}/resolve/main/model.safetensors`, {
          Range: `bytes=${span.begin}-${span.begin + 1}`,
        }],
        ["a multipart body with one bad part", `/${MODEL}/resolve/main/model.safetensors`, {
          Range: `bytes=${other.begin}-${other.begin + 3},${span.begin}-${span.begin + 9}`,
        }],
        ["the whole (small) file", `/${MODEL}/resolve/main/model.safetensors`, {}],
        ["its layer", `/v1/models/${MODEL}/layers/model.layers.2`, {}],
      ];
      for (const [what, path, headers] of cases) {
        await assertJsonError(await fetch(url + path, { headers }), "chunk_corrupt", names, what);
      }
      // HEAD answers as GET would.
      const head = await fetch(`${url}/v1/models/${MODEL}/tensors/${VICTIM}?rows=0:1`, {
        method: "HEAD",
      });
      assert.equal(head.status, 500);
      await head.body?.cancel();
      // The parts that are sound are still served, one part per range.
      const ok = await fetch(`${url}/${MODEL}/resolve/main/model.safetensors`, {
        headers: { Range: `bytes=${other.begin}-${other.begin + 3},${other.end - 2}-` },
      });
      assert.equal(ok.status, 206);
      const parts = parseMultipart(
        ok.headers.get("Content-Type")!,
        new Uint8Array(await ok.arrayBuffer()),
      );
      assert.deepEqual(parts.map((p) => p.bytes.length), [4, 2]);
    },
    {},
    (dir) => install(dir, bad),
  );
});

/** A model of three 1 MiB BF16 matrices, so that a whole-file body is streamed. */
function bigSource(): Uint8Array {
  const rng = new Rng(10);
  return buildSafetensors(
    ["a", "b", "c"].map((name) => ({
      name: `model.layers.0.${name}`,
      dtype: "BF16" as const,
      shape: [1024, 512],
      data: rng.bytes(1 << 20),
    })),
  );
}

/** The byte of the original file where chunk `i` of `t` starts. */
function chunkStart(source: Uint8Array, t: TensorEntry, i: number): number {
  const n = Number(new DataView(source.buffer, source.byteOffset).getBigUint64(0, true));
  const g = geometryOf(t), r = tileRect(g, i);
  return 8 + n + t.offsets[0] + (r.r0 * g.cols + r.c0) * g.width;
}

Deno.test("verified bodies: a streamed body stops at the last good byte and is logged once", async () => {
  await withTempDir(async (tmp) => {
    const source = bigSource();
    assert.ok(source.length > MAX_VERIFIED_BYTES);
    const { bytes } = await packBytes(source, tmp, { mode: "fast" });
    const c = await openBytes(bytes);
    const t = c.tensors.get("model.layers.0.c")!;
    const victim = losslessOf(t).chunks.length >> 1;
    const bad = await corruptChunk(bytes, t.name, victim);
    const firstBad = chunkStart(source, t, victim);
    await withServer(
      async ({ url, logs }) => {
        const res = await fetch(`${url}/${MODEL}/resolve/main/model.safetensors`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("Content-Length"), String(source.length));
        const reader = res.body!.getReader();
        const got: Uint8Array[] = [];
        let cut = false;
        try {
          for (;;) {
            const r = await reader.read();
            if (r.done) break;
            got.push(r.value);
          }
        } catch {
          cut = true;
        }
        const n = got.reduce((s, p) => s + p.length, 0);
        assert.ok(cut || n < source.length, "the body does not pass for a whole one");
        assert.ok(n < source.length, `${n} bytes of ${source.length}`);
        // Every byte received is right, and no more than a block before the corrupt chunk is lost.
        let at = 0;
        for (const p of got) {
          assert.deepEqual(p, source.subarray(at, at + p.length), `bytes at ${at}`);
          at += p.length;
        }
        assert.ok(n <= firstBad, `${n} bytes sent, the corrupt chunk starts at ${firstBad}`);
        assert.ok(n >= firstBad - BLOCK_BYTES, `${n} bytes sent, ${firstBad} were good`);
        // Logged once, naming the chunk.
        await new Promise((r) => setTimeout(r, 50));
        const errors = logs.filter((l) => l.startsWith("ERROR"));
        assert.equal(errors.length, 1, errors.join("\n"));
        assert.match(errors[0], new RegExp(`model\\.layers\\.0\\.c" chunk ${victim}`));
      },
      {},
      (dir) => install(dir, bad),
    );
  });
});

Deno.test("verified bodies: a damaged stored header fails only the reads that touch it", async () => {
  const good = await demoContainer();
  const c = await openBytes(good);
  const h = c.index.source.header;
  const bad = good.slice();
  bad[h.offset + (h.storedLength >> 1)] ^= 0x21;
  const span = tensorSpan(ORIGINAL, VICTIM);
  const headerEnd = 8 + h.length;
  await withServer(
    async ({ url }) => {
      const file = `${url}/${MODEL}/resolve/main/model.safetensors`;
      // Inside tensor data: served.
      for (const [a, b] of [[span.begin, span.begin + 99], [headerEnd, headerEnd + 9]]) {
        const r = await fetch(file, { headers: { Range: `bytes=${a}-${b}` } });
        assert.equal(r.status, 206, `bytes=${a}-${b}`);
        assert.deepEqual(new Uint8Array(await r.arrayBuffer()), ORIGINAL.subarray(a, b + 1));
      }
      const suffix = await fetch(file, { headers: { Range: "bytes=-1000" } });
      assert.equal(suffix.status, 206);
      assert.deepEqual(new Uint8Array(await suffix.arrayBuffer()), ORIGINAL.subarray(-1000));
      const tensor = await fetch(`${url}/v1/models/${MODEL}/tensors/${VICTIM}`);
      assert.deepEqual(
        new Uint8Array(await tensor.arrayBuffer()),
        ORIGINAL.subarray(span.begin, span.end),
      );
      const manifest = await fetch(`${url}/v1/models/${MODEL}/manifest`);
      assert.equal(manifest.status, 200);
      await manifest.body?.cancel();
      // Touching the header: a 500 that says what is wrong, before any byte.
      const damaged = /original header/;
      for (const range of ["bytes=0-7", `bytes=${headerEnd - 1}-${headerEnd}`, null]) {
        const r = await fetch(file, { headers: range ? { Range: range } : {} });
        const body = JSON.parse(await r.text());
        assert.equal(r.status, 500, `${range}`);
        assert.ok(["digest_mismatch", "index_invalid"].includes(body.error), body.error);
        assert.match(body.message, damaged);
      }
    },
    {},
    (dir) => install(dir, bad),
  );
});
