/**
 * The portable Zstandard decoder the codec falls back on when no native one is injected: the
 * reference decoder (libzstd 1.5.7) compiled to WebAssembly, from the zstddec package. Browser-safe.
 * WebAssembly is instantiated asynchronously, so {@link loadPortableZstd} must have resolved before
 * the first {@link portableZstdDecompress}; openContainer sees to it for backends that need it.
 *
 * It replaced fzstd 0.1.1, which loops forever on a 123-byte corrupt frame (FSE-coded Huffman
 * weights whose state reads 0 bits never advance; test/fixtures/fuzz/chunk-hang-3-6441636.json),
 * and decodes 2.3-2.6x faster than fzstd on real indexes, headers and planes (ARCHITECTURE.md).
 * @module
 */
import { CodecError } from "./errors.ts";
import { checkZstdFrames } from "./zstd_frame.ts";

/** Decompresses one Zstandard frame that must inflate to exactly `rawLength` bytes. */
export type ZstdDecompress = (src: Uint8Array, rawLength: number) => Uint8Array;

/**
 * Runs `inflate` on `src` with the checks every decoder needs: whole frames that declare
 * `rawLength` bytes in all, inflating to exactly that. Failures are `CodecError`s.
 */
export function checkedInflate(
  src: Uint8Array,
  rawLength: number,
  inflate: (src: Uint8Array) => Uint8Array,
): Uint8Array {
  checkZstdFrames(src, rawLength);
  let out: Uint8Array;
  try {
    out = inflate(src);
  } catch (e) {
    throw new CodecError("corrupt", `zstd frame does not decode: ${(e as Error).message}`);
  }
  if (out.length !== rawLength) {
    throw new CodecError(
      "corrupt",
      `zstd frame inflates to ${out.length} bytes, expected ${rawLength}`,
    );
  }
  return out;
}

let inflate: ((src: Uint8Array, rawLength: number) => Uint8Array) | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads the portable decoder (once; later calls return the same promise). The package is imported
 * only here, so a process that never needs it never loads it.
 *
 * @example
 * ```ts ignore
 * await loadPortableZstd();
 * portableZstdDecompress(frame, rawLength);
 * ```
 */
export function loadPortableZstd(): Promise<void> {
  loading ??= import("zstddec").then(async ({ ZSTDDecoder }) => {
    const decoder = new ZSTDDecoder();
    await decoder.init();
    // Given the exact output size, the decoder never writes past it; an error leaves the output
    // short, which checkedInflate refuses.
    inflate = (src, rawLength) => decoder.decode(src, rawLength);
  });
  return loading;
}

/**
 * Decodes with the portable decoder; slower than native libzstd, but runs anywhere. The frame walk
 * first bounds the size it is given. Throws a plain Error (a programming error, not corrupt input)
 * when {@link loadPortableZstd} has not resolved yet.
 */
export const portableZstdDecompress: ZstdDecompress = (src, rawLength) => {
  const run = inflate;
  if (!run) {
    throw new Error("the portable Zstandard decoder is not loaded: await loadPortableZstd() first");
  }
  return checkedInflate(src, rawLength, (s) => run(s, rawLength));
};
