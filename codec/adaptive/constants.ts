/**
 * Parameters of the adaptive plane codec (codec 5, docs/FORMAT.md "Adaptive planes"), shared by
 * its encoder and decoder. Browser-safe.
 * @module
 */

/** Probabilities are 15-bit: every cumulative table runs from 0 to 2^15. */
export const PROB_BITS = 15;
/** The total every cumulative table sums to. */
export const PROB_TOTAL = 1 << PROB_BITS;
/** Lower bound of a coder state; states live in [2^23, 2^31) and renormalise a byte at a time. */
export const STATE_LOW = 1 << 23;
/** Symbols per adaptive alphabet: every symbol the codec codes is a nibble. */
export const SYMBOLS = 16;
/** Entries of one cumulative table, `c[0] = 0` to `c[16] = 2^15`. */
export const CDF_STRIDE = SYMBOLS + 1;
/** Adaptation rate bounds: a table moves `1/2^rate` of the way to each symbol it codes. */
export const RATE_MIN = 4;
/** The slowest rate, reached after {@link RATE_WARMUP} updates. */
export const RATE_MAX = 8;
/** Updates after which a table adapts at {@link RATE_MAX}; the rate grows by one every 16. */
export const RATE_WARMUP = 64;
/** The largest tile width the column context keeps a history for. */
export const MAX_COLUMNS = 65536;
/** Independent segments ("lanes") a plane may be split into. */
export const MAX_LANES = 4;

/** How a plane's bytes become nibble symbols. */
export const MODEL_BYTE = 0;
/** Exponent plane: the rank of each byte in a list of up to 15 values, escape 15. */
export const MODEL_RANK = 1;
/** Sign and mantissa plane: high nibble in the context of the exponent plane's byte. */
export const MODEL_MANTISSA = 2;
/** Packed 4-bit integers: both nibbles of each byte, low first, as symbols of one alphabet. */
export const MODEL_NIBBLES = 3;

/** Context of the first symbol of an element: none. */
export const CONTEXT_NONE = 0;
/** Context: the average history symbol of the element's column. */
export const CONTEXT_COLUMN = 1;
/** Context: the previous history symbol of the segment. */
export const CONTEXT_PREVIOUS = 2;

/** Byte transforms of {@link MODEL_BYTE}, so that the high nibble carries the most information. */
export const TRANSFORM_IDENTITY = 0;
/** `s eeee mmm` (FP8 E4M3) to `eeee s mmm`: the exponent is the high nibble. */
export const TRANSFORM_E4M3 = 1;
/** `s eeeee mm` (FP8 E5M2, the high byte of F16) to `eeeee s mm`. */
export const TRANSFORM_E5M2 = 2;
/** Two's complement to zigzag (`0, -1, 1, -2, ...` to `0, 1, 2, 3, ...`): INT8 magnitudes first. */
export const TRANSFORM_ZIGZAG = 3;

/** Low nibble of {@link MODEL_MANTISSA}: uniform, not adapted (a near-random mantissa). */
export const LOW_UNIFORM = 0;
/** Low nibble of {@link MODEL_MANTISSA}: adaptive in the context of the high nibble. */
export const LOW_ADAPTIVE = 1;

/** Context classes of a first symbol: 16 history values and one for "no history yet". */
export const HISTORY_CLASSES = 17;
/** Tables per lane, enough for every model (the rank model's 17 + 1 + 16). */
export const TABLES = 34;
