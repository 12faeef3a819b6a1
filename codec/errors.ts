/**
 * The one error type the codec throws on bad input. Browser-safe.
 * @module
 */

/** Every way stored bytes can fail to decode. */
export type CodecErrorKind =
  /** The stored bytes end before a structure they declare. */
  | "truncated"
  /** A codec id, plane count or table field that this format version does not define. */
  | "unknown_codec"
  /** A structure is self-inconsistent: lengths, frequency sums, final coder states. */
  | "corrupt"
  /** A checksum over stored or decoded bytes does not match the index. */
  | "checksum_mismatch";

/** A decode failure; callers match on `kind`, never on the message. */
export class CodecError extends Error {
  /** Which rule the input broke. */
  readonly kind: CodecErrorKind;

  /** Builds an error of `kind` with a message naming the numbers involved. */
  constructor(kind: CodecErrorKind, message: string) {
    super(message);
    this.name = "CodecError";
    this.kind = kind;
  }
}
