/**
 * Parameters shared by the Huffman encoder and decoder (docs/FORMAT.md, "Huffman"). Browser-safe.
 * @module
 */

/** Longest code; the decoder's lookup table has `1 << MAX_BITS` entries. */
export const MAX_BITS = 11;
/** Independent bit streams, symbol i in stream i mod 4, so a decoder has 4 chains to overlap. */
export const STREAMS = 4;
