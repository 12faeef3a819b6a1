/**
 * Strict UTF-8 decoding of the index and the stored original header. Browser-safe.
 * @module
 */

// Deno decodes with `fatal: true` by a general path that returns a two-byte (UTF-16) string; the
// lenient UTF-8 path returns a one-byte string for ASCII text, which JSON.parse also reads faster.
// On the 1.1 MB index of the 3,041-tensor model, a cold decode took 22 ms and 818 page faults
// strict, 9 ms and 272 faults lenient, and the JSON.parse after it 28 ms and 1,071 faults against
// 21 ms and 576 (fresh memory costs ~25 us a page on this virtual machine).
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * `bytes` as text, exactly as `new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })` decodes
 * them: malformed UTF-8 throws its TypeError, and a leading byte-order mark stays in the text.
 *
 * @example
 * ```ts
 * import { strictUtf8 } from "./utf8_text.ts";
 * console.assert(strictUtf8(new TextEncoder().encode('{"a":1}')) === '{"a":1}');
 * ```
 */
export function strictUtf8(bytes: Uint8Array): string {
  const text = lenient.decode(bytes);
  // The lenient decoder puts U+FFFD for each malformed sequence: text without one came from valid
  // bytes. Text with one (malformed, or an encoded U+FFFD) is decoded again strictly.
  return text.indexOf("\uFFFD") === -1 ? text : strict.decode(bytes);
}
