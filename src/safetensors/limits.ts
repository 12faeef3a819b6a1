/**
 * Limits of the safetensors format, in a module with no imports so that browser code can use them.
 * @module
 */

/** Largest header safetensors accepts, guarding against memory exhaustion. */
export const MAX_HEADER_LENGTH = 100_000_000;
