/**
 * The error type for containers that cannot be read, and for bad requests against them.
 * @module
 */
import { CodecError } from "../../codec/errors.ts";

/** Every way a container, or a request against one, can be invalid. */
export type ContainerErrorKind =
  /** The file does not start with the Tessera magic bytes. */
  | "bad_magic"
  /** The format version is one this reader does not implement. */
  | "unsupported_version"
  /** The file ends before a structure it declares. */
  | "truncated"
  /** The index bytes do not hash to the SHA-256 in the head. */
  | "index_checksum"
  /** The index is not valid JSON of the specified shape, or contradicts itself. */
  | "index_invalid"
  /** A chunk failed to decode or to match its checksums. */
  | "chunk_corrupt"
  /** Decoded bytes do not hash to the SHA-256 the index records for the tensor or the file. */
  | "digest_mismatch"
  /** The index disagrees with the stored original header (tensor names, dtypes, shapes, offsets). */
  | "header_mismatch"
  /** No tensor of that name. */
  | "tensor_not_found"
  /** A row or column slice outside the tensor, or malformed. */
  | "bad_slice"
  /** The original bytes of a tensor, or the original file, asked of a variant-only container. */
  | "variant_only"
  /** A variant the container does not hold. */
  | "variant_not_found";

/** A container failure; callers match on `kind`. */
export class ContainerError extends Error {
  /** Which rule was broken. */
  readonly kind: ContainerErrorKind;

  /** Builds an error of `kind`; `cause` keeps an underlying error such as a CodecError. */
  constructor(kind: ContainerErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ContainerError";
    this.kind = kind;
  }
}

/**
 * What a failure to decode chunk `index` of tensor `tensor` (stored at `offset`) becomes: a
 * CodecError turns into a `chunk_corrupt` ContainerError naming the chunk; anything else is
 * returned as it is, for the caller to rethrow.
 */
export function chunkFailure(tensor: string, index: number, offset: number, e: unknown): unknown {
  if (!(e instanceof CodecError)) return e;
  return new ContainerError(
    "chunk_corrupt",
    `tensor "${tensor}" chunk ${index} (offset ${offset}): ${e.message}`,
    { cause: e },
  );
}
