/**
 * The native unpack (native/tsr_unpack.c): any plan's body comes out byte-identical to the
 * calling thread's, with its SHA-256, across many small blocks and batches, clipped tile rows, and
 * blocks handed back to this thread; a corrupt chunk is `chunk_corrupt` and a wrong digest
 * `digest_mismatch`, leaving no file; an abort while the C threads run stops them and leaves none.
 * Chunks with zstd planes are decoded by the C threads too (libzstd), none handed back, and a
 * corrupt one is still `chunk_corrupt`.
 */
import assert from "node:assert/strict";
import { assemble } from "../../src/container/assemble.ts";
import { losslessOf } from "../../src/container/index_schema.ts";
import type { ContainerErrorKind } from "../../src/container/errors.ts";
import type { Container } from "../../src/container/open.ts";
import type { Block, Piece } from "../../src/container/plan.ts";
import { countedBlocks, originalPieces, readOriginalHeader } from "../../src/container/read.ts";
import { openContainerFile } from "../../src/io/container_file.ts";
import { unpackFile } from "../../src/io/unpack_file.ts";
import {
  nativeUnpackAvailable,
  nativeUnpackZstd,
  unpackNative,
} from "../../src/threads/native_unpack.ts";
import { Rng } from "../codec/prng.ts";
import { buildSafetensors } from "../safetensors/fixture.ts";
import {
  concat,
  dtypeData,
  expectContainerError,
  listDir,
  packBytes,
  sha256,
  withTempDir,
} from "../helpers/container.ts";

const skip = !nativeUnpackAvailable();

function model(seed: number, rows = 300): Uint8Array {
  const rng = new Rng(seed);
  return buildSafetensors([
    { name: "a", dtype: "BF16", shape: [rows, 700], data: dtypeData("BF16", rows * 700, rng) },
    { name: "b", dtype: "F32", shape: [64], data: dtypeData("F32", 64, rng) },
    { name: "c", dtype: "F16", shape: [200, 300], data: dtypeData("F16", 60000, rng) },
    { name: "u", dtype: "U8", shape: [9000], data: dtypeData("U8", 9000, rng) },
  ]);
}

/** Runs `fn` on the container file at `path`, closing it afterwards. */
async function withOpened(path: string, fn: (c: Container) => Promise<void>): Promise<void> {
  const c = await openContainerFile(path);
  try {
    await fn(c);
  } finally {
    c.source.close();
  }
}

/** The whole original file of `c` as blocks of `blockBytes`. */
async function wholeBlocks(c: Container, blockBytes: number): Promise<Block[]> {
  return [...countedBlocks(originalPieces(c, await readOriginalHeader(c)), { blockBytes })];
}

/** `unpackFile` of `c` into `${dir}/out` fails as `kind` and leaves the folder empty. */
async function failsLeavingNothing(
  c: Container,
  dir: string,
  kind: ContainerErrorKind,
): Promise<void> {
  await Deno.mkdir(`${dir}/out`, { recursive: true });
  await expectContainerError(unpackFile(c, `${dir}/out/m.safetensors`, { workers: 2 }), kind);
  assert.deepEqual(listDir(`${dir}/out`), []);
}

/** The body of `blocks` as the calling thread assembles it. */
async function reference(c: Container, blocks: readonly Block[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const b of assemble(c, blocks)) parts.push(b.slice());
  return concat(parts);
}

async function nativeBody(c: Container, blocks: readonly Block[], out: string) {
  await Deno.writeFile(out, new Uint8Array(0));
  let told = 0;
  const made = await unpackNative(c, blocks, out, { threads: 2, onBytes: (n) => told += n });
  const bytes = await Deno.readFile(out);
  assert.equal(made.bytes, bytes.length);
  assert.equal(told, bytes.length, "progress adds up to the body");
  assert.equal(made.sha256, sha256(bytes));
  return bytes;
}

Deno.test({
  name: "unpackNative: any plan's body, byte-identical to the calling thread's, fast and best",
  ignore: skip,
  fn: () =>
    withTempDir(async (dir) => {
      const src = model(41);
      for (const mode of ["fast", "best"] as const) {
        const { path } = await packBytes(src, dir, { mode, chunkBytes: 16384 }, `${mode}.tsr`);
        await withOpened(path, async (c) => {
          // Small blocks (whole bands of tiles): more than the first call's 8, so that a second
          // call follows, and more than the ring's slots, so that it wraps.
          const whole = await wholeBlocks(c, 4 << 10);
          assert.ok(whole.length > 8, `${whole.length} blocks`);
          assert.deepEqual(await nativeBody(c, whole, `${dir}/whole`), src, mode);
          // Windows of tiles: rows copied and clipped by the C, literals between them.
          const a = c.tensors.get("a")!, cc = c.tensors.get("c")!;
          const pieces: Piece[] = [
            { kind: "bytes", bytes: Uint8Array.of(1, 2, 3) },
            {
              kind: "rect",
              tensor: a,
              rect: { r0: 3, r1: 250, c0: 5, c1: 601 },
              skip: 77,
              length: 200_000,
            },
            { kind: "bytes", bytes: Uint8Array.of(4) },
            {
              kind: "rect",
              tensor: cc,
              rect: { r0: 0, r1: 200, c0: 17, c1: 290 },
              skip: 0,
              length: 200 * 273 * 2,
            },
          ];
          for (const blockBytes of [8 << 10, 1 << 20]) {
            const blocks = [...countedBlocks(pieces, { blockBytes })];
            assert.deepEqual(
              await nativeBody(c, blocks, `${dir}/rects`),
              await reference(c, blocks),
              `${mode} rects, blocks of ${blockBytes}`,
            );
          }
          // Blocks the C hands to this thread (stored-byte checks are not done natively).
          const checked = whole.map((b, i) => i % 3 === 1 ? { ...b, verifyStored: true } : b);
          assert.deepEqual(await nativeBody(c, checked, `${dir}/checked`), src, `${mode} checked`);
        });
      }
    }),
});

Deno.test({
  name: "unpackNative: a corrupt chunk is chunk_corrupt, natively or handed back; no file is left",
  ignore: skip,
  fn: () =>
    withTempDir(async (dir) => {
      const src = model(42);
      const { bytes, index } = await packBytes(src, dir, { mode: "fast", chunkBytes: 16384 });
      const [offset, stored] = losslessOf(index.tensors[0]).chunks[9];
      const bad = bytes.slice();
      bad[offset + (stored >> 1)] ^= 0x20;
      await Deno.writeFile(`${dir}/bad.tsr`, bad);
      await withOpened(`${dir}/bad.tsr`, async (c) => {
        await failsLeavingNothing(c, dir, "chunk_corrupt");
        const blocks = (await wholeBlocks(c, 8 << 10)).map((b) => ({ ...b, verifyStored: true }));
        await Deno.writeFile(`${dir}/out/raw`, new Uint8Array(0));
        await expectContainerError(
          unpackNative(c, blocks, `${dir}/out/raw`, { threads: 2 }),
          "chunk_corrupt",
        );
      });
    }),
});

Deno.test({
  name: "unpackFile natively: a digest that does not match is digest_mismatch; no file is left",
  ignore: skip,
  fn: () =>
    withTempDir(async (dir) => {
      const { path } = await packBytes(model(43), dir, { mode: "fast", chunkBytes: 16384 });
      await withOpened(path, async (c) => {
        const source = { ...c.index.source, sha256: "0".repeat(64) };
        const wrong: Container = { ...c, index: { ...c.index, source } };
        await failsLeavingNothing(wrong, dir, "digest_mismatch");
      });
    }),
});

Deno.test({
  name: "unpackFile natively: an abort while the C threads run stops them and leaves nothing",
  ignore: skip,
  fn: () =>
    withTempDir(async (dir) => {
      // About 6 MiB: aborted 1 ms in, the C threads are still running.
      const src = model(44, 4000);
      const { path } = await packBytes(src, dir, { mode: "fast", chunkBytes: 1 << 16 });
      await Deno.mkdir(`${dir}/out`);
      await withOpened(path, async (c) => {
        const stop = new AbortController();
        const run = unpackFile(c, `${dir}/out/m.safetensors`, { workers: 2, signal: stop.signal });
        AbortSignal.timeout(1).addEventListener("abort", () => stop.abort(new Error("stopped")));
        await assert.rejects(run, /stopped/);
        assert.deepEqual(listDir(`${dir}/out`), []);
        // The same container unpacks afterwards: nothing was left open or half done.
        await unpackFile(c, `${dir}/out/m.safetensors`, { workers: 2 });
        assert.deepEqual(await Deno.readFile(`${dir}/out/m.safetensors`), src);
      });
    }),
});

/** A model whose tensor `r` repeats a short random run, so that `best` codes its planes with zstd. */
function repeating(seed: number): Uint8Array {
  const rng = new Rng(seed), run = dtypeData("BF16", 700, rng), data = new Uint8Array(240_000);
  for (let at = 0; at < data.length; at += run.length) {
    data.set(run.subarray(0, data.length - at), at);
  }
  return buildSafetensors([
    { name: "r", dtype: "BF16", shape: [400, 300], data },
    { name: "a", dtype: "BF16", shape: [100, 700], data: dtypeData("BF16", 70_000, rng) },
  ]);
}

/** Offsets and stored lengths of the chunks of `index` with a zstd plane (codec 3). */
function zstdChunks(bytes: Uint8Array, index: { tensors: readonly unknown[] }): number[][] {
  const found: number[][] = [];
  for (const t of index.tensors) {
    for (const [offset, stored] of losslessOf(t as never).chunks) {
      const width = bytes[offset];
      for (let p = 0; p < width; p++) {
        if (bytes[offset + 1 + 5 * p] === 3) {
          found.push([offset, stored]);
          break;
        }
      }
    }
  }
  return found;
}

Deno.test({
  name: "unpackNative: zstd planes decode on the C threads, bit-exact, none handed back",
  ignore: skip || !nativeUnpackZstd(true),
  fn: () =>
    withTempDir(async (dir) => {
      const src = repeating(45);
      const { path, bytes, index } = await packBytes(src, dir, { mode: "best", chunkBytes: 16384 });
      assert.ok(zstdChunks(bytes, index).length > 1, "the container has zstd planes");
      await withOpened(path, async (c) => {
        const whole = await wholeBlocks(c, 8 << 10);
        for (const native of [true, false]) {
          nativeUnpackZstd(native);
          const out = `${dir}/out-${native}`;
          await Deno.writeFile(out, new Uint8Array(0));
          const made = await unpackNative(c, whole, out, { threads: 2 });
          assert.deepEqual(await Deno.readFile(out), src);
          assert.equal(made.sha256, sha256(src));
          if (native) assert.equal(made.handedBack, 0, "no block handed back");
          else assert.ok(made.handedBack > 0, "without native zstd, its blocks are handed back");
        }
      }).finally(() => nativeUnpackZstd(true));
    }),
});

Deno.test({
  name: "unpackNative: a corrupt chunk with a zstd plane is chunk_corrupt; no file is left",
  ignore: skip || !nativeUnpackZstd(true),
  fn: () =>
    withTempDir(async (dir) => {
      const { bytes, index } = await packBytes(repeating(46), dir, {
        mode: "best",
        chunkBytes: 16384,
      });
      const [offset, stored] = zstdChunks(bytes, index)[1];
      // A flipped byte in the frame, and one in the last byte (the raw plane's XXH32 catches it).
      for (const at of [offset + (stored >> 1), offset + stored - 1]) {
        const bad = bytes.slice();
        bad[at] ^= 0x20;
        await Deno.writeFile(`${dir}/bad.tsr`, bad);
        await withOpened(`${dir}/bad.tsr`, (c) => failsLeavingNothing(c, dir, "chunk_corrupt"));
      }
    }),
});
