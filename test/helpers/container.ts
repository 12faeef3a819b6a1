/**
 * Shared helpers for the container and CLI tests: temp dirs, packing in-memory safetensors,
 * reading whole originals back, cutting reference slices and hand-editing a container's index.
 * @module
 */
import assert from "node:assert/strict";
import { ContainerError, type ContainerErrorKind } from "../../src/container/errors.ts";
import { decodeHead, encodeHead, HEAD_BYTES, INDEX_ZSTD } from "../../src/container/format.ts";
import type { Backends } from "../../src/container/backends.ts";
import { type Container, openContainer } from "../../src/container/open.ts";
import { readRegion, streamOriginal } from "../../src/container/read.ts";
import { geometryOf, type Index, type TensorEntry } from "../../src/container/index_schema.ts";
import { tileRect } from "../../codec/tiles.ts";
import { bufferSource } from "../../src/container/source.ts";
import { nativeBackends } from "../../src/codec_native/backends.ts";
import { type PackOptions, packReader } from "../../src/pack/write.ts";
import { nativeZstdDecompress } from "../../src/codec_native/zstd.ts";
import { sha256Bytes, sha256Hex } from "../../src/hash/sha256.ts";
import { bufferReader } from "../../src/io/random_access.ts";
import type { Rect } from "../../codec/tiles.ts";
import { type Dtype, dtypeWidth } from "../../codec/dtype.ts";
import type { Rng } from "../codec/prng.ts";

/** Runs `fn` with a fresh temporary directory that is removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tessera_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Names of the entries of `dir`, sorted. */
export function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** SHA-256 hex of `bytes`. */
export const sha256 = sha256Hex;

/** Packs safetensors bytes `src` into `dir/name`; returns the path, the bytes and the index. */
export async function packBytes(
  src: Uint8Array,
  dir: string,
  options: PackOptions = {},
  name = "model.tsr",
): Promise<{ path: string; bytes: Uint8Array; index: Index }> {
  const path = `${dir}/${name}`;
  const index = await packReader(bufferReader(src), path, options);
  return { path, bytes: await Deno.readFile(path), index };
}

/** Opens container bytes held in memory, with the native backends unless others are given. */
export function openBytes(
  bytes: Uint8Array,
  backends: Backends = nativeBackends(),
): Promise<Container> {
  return openContainer(bufferSource(bytes), backends);
}

/** Reads, verifies and decodes chunk `i` of tensor `t`: the bytes of its tile, row-major. */
export function readChunk(c: Container, t: TensorEntry, i: number): Promise<Uint8Array> {
  return readRegion(c, t, tileRect(geometryOf(t), i));
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The whole original file rebuilt in memory through `streamOriginal`. */
export async function readOriginal(c: Container): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of streamOriginal(c)) parts.push(p.slice());
  return concat(parts);
}

/** The data bytes of tensor `name` cut from the original safetensors bytes, using the index. */
export function sourceTensorBytes(src: Uint8Array, index: Index, name: string): Uint8Array {
  const t = index.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`no tensor ${name}`);
  const dataStart = 8 + index.source.header.length;
  return src.subarray(dataStart + t.offsets[0], dataStart + t.offsets[1]);
}

/** Cuts `rect` out of a row-major `[rows, cols]` matrix of `width`-byte elements. */
export function cutRect(data: Uint8Array, cols: number, width: number, rect: Rect): Uint8Array {
  const span = (rect.c1 - rect.c0) * width;
  const out = new Uint8Array((rect.r1 - rect.r0) * span);
  for (let r = rect.r0; r < rect.r1; r++) {
    const from = (r * cols + rect.c0) * width;
    out.set(data.subarray(from, from + span), (r - rect.r0) * span);
  }
  return out;
}

/** Asserts that `err` is a ContainerError of `kind` (the assert.rejects/throws validator form). */
export function isContainerError(kind: ContainerErrorKind | readonly ContainerErrorKind[]) {
  const kinds = typeof kind === "string" ? [kind] : kind;
  return (err: unknown): true => {
    assert.ok(
      err instanceof ContainerError,
      `expected ContainerError ${kinds.join("|")}, got ${
        err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      }`,
    );
    assert.ok(
      kinds.includes(err.kind),
      `expected kind ${kinds.join("|")}, got ${err.kind}: ${err.message}`,
    );
    return true;
  };
}

/** Awaits `p` and asserts that it rejects with a ContainerError of `kind`; returns the error. */
export async function expectContainerError(
  p: Promise<unknown> | (() => Promise<unknown>),
  kind: ContainerErrorKind | readonly ContainerErrorKind[],
): Promise<ContainerError> {
  let caught: unknown = undefined, threw = false;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    caught = e;
    threw = true;
  }
  assert.ok(threw, `expected a ContainerError ${JSON.stringify(kind)}, but nothing was thrown`);
  isContainerError(kind)(caught);
  return caught as ContainerError;
}

/** The index JSON of container bytes, decompressed if needed (no checks beyond the head). */
export function readIndexJson(bytes: Uint8Array): Record<string, unknown> {
  const head = decodeHead(bytes.subarray(0, HEAD_BYTES), bytes.length);
  const stored = bytes.subarray(head.indexOffset, head.indexOffset + head.indexLength);
  const raw = head.indexCodec === INDEX_ZSTD
    ? nativeZstdDecompress(stored, head.indexRawLength)
    : stored;
  return JSON.parse(new TextDecoder().decode(raw));
}

/**
 * Rewrites the index of container bytes: `mutate` edits the parsed JSON (or returns a replacement
 * value, or raw bytes), which is written back plain (codec 0) in place of the old index with a
 * head whose SHA-256 matches, so only the index's content can be at fault.
 */
export function editIndex(
  bytes: Uint8Array,
  mutate: (index: Record<string, unknown>) => unknown,
): Uint8Array {
  const head = decodeHead(bytes.subarray(0, HEAD_BYTES), bytes.length);
  const json = readIndexJson(bytes);
  const replaced = mutate(json);
  const value = replaced === undefined ? json : replaced;
  const plain = value instanceof Uint8Array
    ? value
    : new TextEncoder().encode(JSON.stringify(value));
  const out = new Uint8Array(head.indexOffset + plain.length);
  out.set(bytes.subarray(0, head.indexOffset));
  out.set(plain, head.indexOffset);
  out.set(
    encodeHead({
      indexCodec: 0,
      indexOffset: head.indexOffset,
      indexLength: plain.length,
      indexRawLength: plain.length,
      indexSha256: sha256Bytes(plain),
    }),
    0,
  );
  return out;
}

/** Bit patterns worth round-tripping for each float dtype: NaN payloads, ±inf, -0, subnormals. */
export const SPECIAL_BITS: Partial<Record<Dtype, readonly bigint[]>> = {
  F8_E5M2: [0x7cn, 0xfcn, 0x7dn, 0x7en, 0x7fn, 0xffn, 0x80n, 0x00n, 0x01n, 0x03n, 0x83n, 0x7bn],
  F8_E4M3: [0x7fn, 0xffn, 0x80n, 0x00n, 0x01n, 0x07n, 0x87n, 0x7en, 0xfen],
  F16: [
    0x7e00n,
    0x7c01n,
    0xfe37n,
    0x7dffn,
    0x7c00n,
    0xfc00n,
    0x8000n,
    0x0000n,
    0x0001n,
    0x03ffn,
    0x8001n,
    0x7bffn,
    0xfbffn,
  ],
  BF16: [
    0x7fc0n,
    0x7f81n,
    0xffffn,
    0xffc1n,
    0x7f80n,
    0xff80n,
    0x8000n,
    0x0000n,
    0x0001n,
    0x007fn,
    0x8001n,
    0x7f7fn,
    0xff7fn,
  ],
  F32: [
    0x7fc00000n,
    0x7f800001n,
    0xffffffffn,
    0x7fa5a5a5n,
    0xffc00001n,
    0x7f800000n,
    0xff800000n,
    0x80000000n,
    0x00000000n,
    0x00000001n,
    0x007fffffn,
    0x80000001n,
    0x7f7fffffn,
  ],
  F64: [
    0x7ff8000000000000n,
    0x7ff0000000000001n,
    0xffffffffffffffffn,
    0x7ff4dead0000beefn,
    0x7ff0000000000000n,
    0xfff0000000000000n,
    0x8000000000000000n,
    0x0000000000000000n,
    0x0000000000000001n,
    0x000fffffffffffffn,
    0x8000000000000001n,
    0x7fefffffffffffffn,
  ],
  I8: [0x80n, 0x7fn, 0xffn, 0n],
  U8: [0n, 0xffn],
  BOOL: [0n, 1n],
  I16: [0x8000n, 0x7fffn, 0xffffn, 0n],
  U16: [0n, 0xffffn],
  I32: [0x80000000n, 0x7fffffffn, 0xffffffffn, 0n],
  U32: [0n, 0xffffffffn],
  I64: [0x8000000000000000n, 0x7fffffffffffffffn, 0xffffffffffffffffn, 0n],
  U64: [0n, 0xffffffffffffffffn],
};

/**
 * `n` elements of `dtype` as little-endian bytes: the special patterns first (cycled), then a mix
 * of small "weight-like" values and random bit patterns, so every plane codec gets exercised.
 */
export function dtypeData(dtype: Dtype, n: number, rng: Rng): Uint8Array {
  const width = dtypeWidth(dtype);
  const out = new Uint8Array(n * width);
  const specials = SPECIAL_BITS[dtype] ?? [0n];
  for (let i = 0; i < n; i++) {
    let v: bigint;
    if (i < specials.length * 2) v = specials[i % specials.length];
    else if (dtype === "BOOL") v = BigInt(rng.int(2));
    else if (rng.int(4) === 0) v = BigInt(rng.u32()) << 32n | BigInt(rng.u32());
    else {
      // Low-entropy values: a narrow band near a "typical" exponent, small integers.
      v = BigInt(rng.int(64)) | (BigInt(0x3c + rng.int(3)) << BigInt(width * 8 - 8));
    }
    for (let b = 0; b < width; b++) out[i * width + b] = Number((v >> BigInt(8 * b)) & 0xffn);
  }
  return out;
}
