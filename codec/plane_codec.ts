/**
 * Plane codec ids as they appear in a chunk's plane table (docs/FORMAT.md, "Chunks").
 * Browser-safe.
 * @module
 */

/** The plane's bytes are stored as they are. */
export const CODEC_RAW = 0;
/** Every byte of the plane equals one stored byte. */
export const CODEC_CONST = 1;
/** Order-0 rANS with a frequency table of its own (docs/FORMAT.md, "rANS"). */
export const CODEC_RANS = 2;
/** One Zstandard frame (RFC 8878). */
export const CODEC_ZSTD = 3;

/** Canonical Huffman, 4 interleaved bit streams (docs/FORMAT.md, "Huffman"). */
export const CODEC_HUFFMAN = 4;

/** Nibble symbols under adaptive tables, with contexts (docs/FORMAT.md, "Adaptive planes"). */
export const CODEC_ADAPTIVE = 5;

/**
 * Static rANS with one frequency table per class of a context byte (docs/FORMAT.md, "Context
 * rANS").
 */
export const CODEC_CONTEXT = 6;

/** Each codec's name, indexed by id, as tools print it. */
export const CODEC_NAMES: readonly string[] = [
  "raw",
  "const",
  "rans",
  "zstd",
  "huffman",
  "adaptive",
  "context",
];

/** Size of one plane table entry: u8 codec id, u32 payload length. */
export const PLANE_ENTRY_BYTES = 5;
