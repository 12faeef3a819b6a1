/**
 * Opens a container from any byte source: the 64-byte head, then the index, checked against the
 * SHA-256 in the head before it is inflated or parsed. Browser-safe: I/O and native code come in
 * through the source and the backends.
 * @module
 */
import type { Backends } from "./backends.ts";
import { ContainerError } from "./errors.ts";
import { decodeHead, type Head, HEAD_BYTES } from "./format.ts";
import { type Index, parseIndex, type TensorEntry } from "./index_schema.ts";
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
  if (source.size < HEAD_BYTES) {
    throw new ContainerError(
      "truncated",
      `container is ${source.size} bytes, the head alone is ${HEAD_BYTES}`,
    );
  }
  const head = decodeHead(await source.readAt(0, HEAD_BYTES), source.size);
  const stored = await source.readAt(head.indexOffset, head.indexLength);
  const h = backends.sha256();
  h.update(stored);
  if (h.hex() !== hex(head.indexSha256)) {
    throw new ContainerError("index_checksum", "index bytes do not match the SHA-256 in the head");
  }
  const index = parseIndex(
    inflateMeta(backends, stored, head.indexCodec, head.indexRawLength, "index"),
    source.size,
    head.version,
  );
  return {
    head,
    index,
    source,
    backends,
    tensors: new Map(index.tensors.map((t) => [t.name, t])),
  };
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
