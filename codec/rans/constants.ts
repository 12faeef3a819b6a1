/**
 * Parameters shared by the rANS encoder and decoder. Browser-safe.
 * @module
 */

/** Frequencies are normalised to sum to `1 << SCALE_BITS`. */
export const SCALE_BITS = 12;
/** The sum every frequency table normalises to. */
export const SCALE_TOTAL = 1 << SCALE_BITS;
/**
 * Lower bound of the coder state; renormalisation moves 16 bits at a time, so states stay in
 * [2^15, 2^31) and the JIT keeps them in 32-bit integer registers rather than doubles.
 */
export const STATE_LOW = 1 << 15;
/** Interleaved coder states, so the decoder has independent chains for the CPU to overlap. */
export const LANES = 4;
/** Rice parameters above this cannot occur with 12-bit frequencies. */
export const MAX_RICE_K = 12;
