/**
 * The single error type for malformed safetensors files, with one `kind` per
 * validation rule so callers and tests can tell failures apart without parsing messages.
 * @module
 */

/** Which safetensors validation rule a file broke. */
export type SafetensorsErrorKind =
  /** The file is shorter than the 8-byte header-length prefix. */
  | "file_too_small"
  /** The declared header length exceeds the 100,000,000-byte limit. */
  | "header_too_large"
  /** 8 + declared header length is past the end of the file. */
  | "header_length_exceeds_file"
  /** The header bytes are not valid UTF-8. */
  | "header_not_utf8"
  /** The header is not well-formed JSON (including nesting that is too deep). */
  | "header_invalid_json"
  /** The header is valid JSON but not an object. */
  | "header_not_object"
  /** The header's first byte is not `{`. */
  | "header_bad_start"
  /** Something other than spaces (0x20) follows the header's JSON object. */
  | "header_trailing_garbage"
  /** A JSON object in the header repeats a key. */
  | "duplicate_key"
  /** `__metadata__` is not an object mapping strings to strings. */
  | "metadata_invalid"
  /** A tensor entry is not an object with exactly dtype, shape and data_offsets of the right types. */
  | "tensor_invalid_info"
  /** A tensor's dtype is not one safetensors defines. */
  | "unknown_dtype"
  /** A tensor's shape contains something other than non-negative safe integers. */
  | "invalid_shape"
  /** A tensor's data_offsets are not two non-negative safe integers with begin <= end. */
  | "invalid_offsets"
  /** Sorted by begin, tensors do not tile the data section from 0 (a gap or an overlap). */
  | "offsets_not_contiguous"
  /** A tensor's element count times dtype width differs from its byte span. */
  | "size_mismatch"
  /** A tensor's byte size exceeds Number.MAX_SAFE_INTEGER. */
  | "size_overflow"
  /** The data section's length differs from the end of the last tensor. */
  | "data_length_mismatch";

/** A safetensors file broke the rule named by `kind`. */
export class SafetensorsError extends Error {
  /** The rule that was broken. */
  readonly kind: SafetensorsErrorKind;

  /** Creates an error for rule `kind`; `message` should say what was expected and received. */
  constructor(kind: SafetensorsErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SafetensorsError";
    this.kind = kind;
  }
}
