/**
 * Rebuilds the original safetensors file of a container on disk, atomically: blocks decoded in
 * parallel (one thread per core from {@link PARALLEL_FROM}: native threads for a local container
 * file with the native library, else the decode pool), hashed and written in order while the next
 * blocks decode, and the file's SHA-256 checked before it appears.
 * @module
 */
import { assemble } from "../container/assemble.ts";
import { ContainerError } from "../container/errors.ts";
import type { Container } from "../container/open.ts";
import { countedBlocks, originalPieces, readOriginalHeader } from "../container/read.ts";
import { createDecodePool, type DecodePool, type DecodeWorkers } from "../threads/decode_pool.ts";
import { orderedHash, orderedHex } from "../threads/ordered_hash.ts";
import { nativeUnpackAvailable, unpackNative } from "../threads/native_unpack.ts";
import { createAtomicFile } from "./atomic_file.ts";

/** Original files from this size decode on worker threads by default. */
export const PARALLEL_FROM = 32 << 20;

/**
 * Output planned ahead when the workers keep the outputs (an ordered hash): it costs only the
 * blocks' plans, and a deeper queue keeps the workers busy while this thread is descheduled on a
 * loaded machine (338 MB, 6 alternating runs at load 7-9: 1.65 s of CPU with 4 MiB, 1.51 with 16).
 */
export const ORDERED_AHEAD_BYTES = 16 << 20;

/** Options of {@link unpackFile}. */
export interface UnpackOptions {
  /**
   * Decode threads: 0 decodes on this thread; by default one per core from {@link PARALLEL_FROM};
   * or workers started already (`startDecodeWorkers`), which the unpack then owns and stops.
   */
  readonly workers?: number | DecodeWorkers;
  /** Told the size of each block written. */
  readonly onBytes?: (n: number) => void;
  /** Stops the unpack; nothing is left behind. */
  readonly signal?: AbortSignal;
}

/** The decode threads a whole-file decode of `size` bytes gets by default. */
export function defaultWorkers(size: number): number {
  return size < PARALLEL_FROM ? 0 : Math.min(8, navigator.hardwareConcurrency || 1);
}

/**
 * Writes the original file of `c` to `output`; it appears only once complete and verified.
 *
 * @example
 * ```ts ignore
 * await unpackFile(await openContainerFile("model.tsr"), "model.safetensors");
 * ```
 */
export async function unpackFile(
  c: Container,
  output: string,
  options: UnpackOptions = {},
): Promise<void> {
  const size = c.index.source.size;
  const workers = options.workers ?? defaultWorkers(size);
  let out;
  try {
    out = await createAtomicFile(output);
  } catch (e) {
    if (typeof workers !== "number") workers.close();
    throw e;
  }
  // With the native library on Linux and the container in a local file, native/tsr_unpack.c
  // reads, decodes, writes and hashes every block on threads of its own, in one call per few
  // hundred blocks (src/threads/native_unpack.ts): no worker isolate starts, and no block passes
  // through this thread unless the kernel leaves it to the TypeScript codec. Else, with worker
  // threads, each writes the blocks it decodes into the temporary file, and feeds them to the
  // file's SHA-256 in turn (with the native library, reading the container file itself; else this
  // thread hashes the outputs the workers hand back, in order). Without, this thread decodes,
  // hashes and writes. The ordered hash needs blocks handed out in plan order, which holds only
  // when the workers read the file themselves: from any other source, blocks go out as their
  // reads complete.
  const parallel = typeof workers !== "number" || workers > 0;
  let pool: DecodePool | undefined;
  try {
    if (parallel && typeof workers === "number" && c.source.file && nativeUnpackAvailable()) {
      const pieces = originalPieces(c, await readOriginalHeader(c));
      const made = await unpackNative(c, countedBlocks(pieces), out.tempPath, {
        // Two threads per core: on a loaded machine a descheduled thread (holding the next block
        // to hash, or waiting for this thread to produce a block the kernel left) then stalls
        // only its share. 338 MB, whole processes, 4 alternating runs at load 9.5-10 (medians):
        // 2 threads 2.02 s, 4 threads 1.59 s (main 1.59 s, zstd -d -T1 1.00 s), CPU 1.00 and
        // 1.08 s (main 1.23 s), page faults 9,800 and 9,900 (main 12,600), RSS 91 and 108 MB.
        threads: 2 * workers,
        onBytes: options.onBytes,
        signal: options.signal,
      });
      checkDigest(c, made.bytes, made.sha256);
      await out.commit();
      return;
    }
    const ordered = parallel && c.source.file ? orderedHash() : undefined;
    if (parallel) {
      pool = createDecodePool(workers, c.backends, {
        output: out.tempPath,
        input: c.source.file,
        hash: ordered,
      });
    }
    const executor = pool;
    const hash = ordered ? undefined : c.backends.sha256();
    let pos = 0;
    const pieces = originalPieces(c, await readOriginalHeader(c));
    // Block lengths in plan order: with an ordered hash the outputs stay in the workers.
    const lengths: number[] = [];
    const blocks = function* () {
      for (const b of countedBlocks(pieces)) {
        lengths.push(b.length);
        yield b;
      }
    };
    // Blocks reuse their buffers: each is hashed (and written) before the next is asked for.
    for await (
      const block of assemble(c, blocks(), {
        executor,
        recycle: !ordered,
        aheadBytes: ordered ? ORDERED_AHEAD_BYTES : undefined,
        signal: options.signal,
        writeFrom: executor ? 0 : undefined,
      })
    ) {
      // Hashing runs on a native thread where there is one, beside the writing and decoding of
      // the next blocks; the block is reused only after it.
      if (hash) {
        await Promise.all([
          hash.updateAsync ? hash.updateAsync(block) : hash.update(block),
          executor ? undefined : out.writeAt(pos, block),
        ]);
      }
      const n = lengths.shift()!;
      pos += n;
      options.onBytes?.(n);
    }
    checkDigest(c, pos, ordered ? orderedHex(ordered) : hash!.hex());
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  } finally {
    // Workers started by the caller belong to the pool once it exists; before that, to this.
    if (pool) pool.close();
    else if (typeof workers !== "number") workers.close();
  }
}

/** Throws `digest_mismatch` unless the rebuilt file is `bytes` long and hashes to the index's. */
function checkDigest(c: Container, bytes: number, digest: string): void {
  const { size, sha256 } = c.index.source;
  if (bytes !== size || digest !== sha256) {
    throw new ContainerError(
      "digest_mismatch",
      `rebuilt file is ${bytes} bytes with SHA-256 ${digest}; expected ${size} bytes, ${sha256}`,
    );
  }
}
