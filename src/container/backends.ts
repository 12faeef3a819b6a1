/**
 * What the reader needs from its platform, injected by the entry points: SHA-256, a Zstandard
 * decoder, and optionally a batch chunk kernel (native through FFI in the CLI and the server,
 * WebAssembly in a browser). Without a kernel every chunk decodes with the TypeScript codec.
 * Browser-safe; `portable_backends.ts` has a set that runs anywhere.
 * @module
 */
import type { PlaneLayout } from "../../codec/dtype.ts";
import type { ZstdDecompress } from "../../codec/zstd_decode.ts";

/** An incremental SHA-256. */
export interface Hasher {
  /** Feeds more bytes. */
  update(bytes: Uint8Array): void;
  /**
   * Feeds more bytes on another thread, where the platform has one to spare: the caller keeps
   * `bytes` unchanged until the promise settles, and feeds nothing else meanwhile.
   */
  updateAsync?(bytes: Uint8Array): Promise<void>;
  /** Finishes and returns the lower-case hex digest; the hasher is spent afterwards. */
  hex(): string;
}

/** What a batch kernel needs of one chunk. */
export interface KernelPiece {
  /** Container offset of the stored chunk. */
  readonly offset: number;
  /** Stored bytes. */
  readonly storedLength: number;
  /** Decoded bytes. */
  readonly rawLength: number;
  /** XXH32 of the decoded bytes. */
  readonly rawXxh32: number;
  /** The tensor's plane layout. */
  readonly layout: PlaneLayout;
  /** Where the decoded chunk goes in `dst`. */
  readonly at: number;
  /** Then its rows (`rowBytes` each) are copied `stride` apart from `target` in `dst`. */
  readonly scatter?: {
    readonly rowBytes: number;
    readonly stride: number;
    readonly target: number;
  };
}

/** A piece the kernel left to the TypeScript decoder because it does not handle its codecs. */
export const KERNEL_FALLBACK = 1;
/** A piece the kernel left because it failed: corrupt, or not matching its checksum. */
export const KERNEL_FAILED = 2;

/**
 * Decodes `pieces`, whose stored bytes lie in `stored` (which starts at container offset `base`),
 * into `dst`, checking each against its XXH32, and performs their scatters. Returns one status per
 * piece: 0 done, else {@link KERNEL_FALLBACK} or {@link KERNEL_FAILED}, for the TypeScript decoder
 * to redo the piece, scatter included, so that every error comes from one place.
 */
export type BatchKernel = (
  stored: Uint8Array,
  base: number,
  pieces: readonly KernelPiece[],
  dst: Uint8Array,
) => Uint8Array;

/** The platform services a container reader uses. */
export interface Backends {
  /** Names the set in logs and benchmarks ("native", "portable", …). */
  readonly name: string;
  /** Starts an incremental SHA-256. */
  sha256(): Hasher;
  /** Decompresses Zstandard (the index, the original header, zstd planes). */
  readonly zstd: ZstdDecompress;
  /** Batch chunk decoder; absent, chunks decode with the TypeScript codec. */
  readonly kernel?: BatchKernel;
  /**
   * Loads what the services need before their first use (the portable Zstandard decoder's
   * WebAssembly); openContainer awaits it, so a container's reads never find it missing.
   */
  readonly ready?: () => Promise<void>;
}

/** SHA-256 of `bytes` as lower-case hex, with `backends`. */
export function sha256Hex(backends: Backends, bytes: Uint8Array): string {
  const h = backends.sha256();
  h.update(bytes);
  return h.hex();
}
