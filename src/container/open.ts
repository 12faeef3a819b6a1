/**
 * Opens a container from any byte source: the 64-byte head, then the index, checked against the
 * SHA-256 in the head before it is inflated or parsed, then the stored original header, checked
 * against its SHA-256 and compared with the index. Browser-safe: I/O and native code come in
 * through the source and the backends.
 *
 * A stored header that is damaged (it fails its SHA-256 or does not inflate) does not stop the
 * open: only reads that need its bytes fail, with the error kept in `headerError`, and every tensor
 * is still served, each chunk checked by its own checksums. A header that is intact but disagrees
 * with the index is refused here (`header_mismatch`), since the index would then serve tensors
 * under names or shapes the original file does not have.
 * @module
 */
import type { Backends } from "./backends.ts";
import { ContainerError } from "./errors.ts";
import { decodeHead, type Head, HEAD_BYTES } from "./format.ts";
import { checkHeaderAgreement } from "./header_agreement.ts";
import { type Index, parseIndex, type TensorEntry, tensorsByName } from "./index_schema.ts";
import type { ByteSource } from "./source.ts";

/** An open container: its validated index, the source of its bytes and the backends that decode. */
export interface Container {
  /** The decoded head. */
  readonly head: Head;
  /** The validated index. */
  readonly index: Index;
  /** Tensors by name. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  /** Where chunk bytes come from. */
  readonly source: ByteSource;
  /** SHA-256, Zstandard and the chunk kernel. */
  readonly backends: Backends;
  /**
   * The N original header bytes, checked against their SHA-256 and the index; undefined when the
   * stored bytes are damaged, and then `headerError` says how.
   */
  readonly originalHeader?: Uint8Array;
  /** Why the stored original header cannot be used, when it cannot. */
  readonly headerError?: ContainerError;
}

/**
 * Opens and validates the container behind `source`. The caller closes the source.
 *
 * @example
 * ```ts ignore
 * import { openContainer } from "./open.ts";
 * import { portableBackends } from "./portable_backends.ts";
 * import { bufferSource } from "./source.ts";
 * const c = await openContainer(bufferSource(bytes), portableBackends);
 * console.log(c.index.tensors.length);
 * ```
 */
export async function openContainer(source: ByteSource, backends: Backends): Promise<Container> {
  await backends.ready?.();
  if (source.size < HEAD_BYTES) {
    throw new ContainerError(
      "truncated",
      `container is ${source.size} bytes, the head alone is ${HEAD_BYTES}`,
    );
  }
  const head = decodeHead(await source.readAt(0, HEAD_BYTES), source.size);
  const storedIndex = await source.readAt(head.indexOffset, head.indexLength);
  const indexHash = backends.sha256();
  indexHash.update(storedIndex);
  if (indexHash.hex() !== hex(head.indexSha256)) {
    throw new ContainerError("index_checksum", "index bytes do not match the SHA-256 in the head");
  }
  const index = parseIndex(
    inflateMeta(backends, storedIndex, head.indexCodec, head.indexRawLength, "index"),
    source.size,
    head.version,
  );
  // Usually inside the bytes a remote source fetched when it opened (the header follows the head).
  const h = index.source.header;
  const stored = await source.readAt(h.offset, h.storedLength);
  let originalHeader: Uint8Array | undefined, headerError: ContainerError | undefined;
  try {
    originalHeader = checkedHeader(backends, index, stored);
  } catch (e) {
    if (!(e instanceof ContainerError)) throw e;
    headerError = e;
  }
  // One map for the header agreement and the container: a second one and a pair per tensor cost
  // ~200 page faults on the cold open of a 3,041-tensor index.
  const tensors = tensorsByName(index);
  if (originalHeader) checkHeaderAgreement(index, originalHeader, tensors);
  return {
    head,
    index,
    source,
    backends,
    tensors,
    originalHeader,
    headerError,
  };
}

/** The original header from its `stored` bytes: inflated and checked against its SHA-256. */
function checkedHeader(backends: Backends, index: Index, stored: Uint8Array): Uint8Array {
  const h = index.source.header;
  const bytes = inflateMeta(backends, stored, h.codec, h.length, "original header");
  const hash = backends.sha256();
  hash.update(bytes);
  if (bytes.length !== h.length || hash.hex() !== h.sha256) {
    throw new ContainerError(
      "digest_mismatch",
      "stored original header does not match its SHA-256",
    );
  }
  return bytes;
}

/** Inflates a stored index or original header (codec 0 plain, 3 Zstandard) to `rawLength` bytes. */
export function inflateMeta(
  backends: Backends,
  stored: Uint8Array,
  codec: number,
  rawLength: number,
  what: string,
): Uint8Array {
  if (codec === 0) return stored;
  try {
    return backends.zstd(stored, rawLength);
  } catch (e) {
    throw new ContainerError(
      "index_invalid",
      `${what} does not decompress: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
